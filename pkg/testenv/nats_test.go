package testenv

import (
	"bytes"
	"testing"

	eventbuscommon "github.com/argoproj/argo-events/pkg/eventbus/common"
	"github.com/spf13/viper"
)

// TestAuthYAMLReadsBack reads the credential file the way the Argo Events
// programs do (viper, then the upstream AuthCredential) for random hex
// credentials that YAML would otherwise take as numbers: 8 digits with an
// e in them are a float, leading zeros an octal.
func TestAuthYAMLReadsBack(t *testing.T) {
	for _, c := range []struct{ user, pass string }{
		{"1234e567", "0000000012345678"},
		{"00012345", "9e9e9e9e9e9e9e9e"},
		{"12345678", "0x123456789abcde"},
		{"abcdef01", "deadbeefdeadbeef"},
	} {
		n := &NATS{User: c.user, Password: c.pass}
		v := viper.New()
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewBufferString(n.AuthYAML())); err != nil {
			t.Fatalf("%q: %v", n.AuthYAML(), err)
		}
		var cred eventbuscommon.AuthCredential
		if err := v.Unmarshal(&cred); err != nil {
			t.Fatalf("%q: %v", n.AuthYAML(), err)
		}
		if cred.Username != c.user || cred.Password != c.pass {
			t.Errorf("AuthYAML() = %q reads back as %q/%q, want %q/%q", n.AuthYAML(), cred.Username, cred.Password, c.user, c.pass)
		}
	}
}
