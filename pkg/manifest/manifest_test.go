package manifest

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseSplitsDocumentsAndKeepsTheirLines(t *testing.T) {
	data := "# leading comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\n# empty above\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: b\n"
	docs, err := Parse("in.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.Object.GetKind()+"/"+d.Object.GetName()+"@"+d.File+":"+strconv.Itoa(d.Line))
	}
	want := "ConfigMap/a@in.yaml:2 ServiceAccount/b@in.yaml:9"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

func TestParseRejectsWhatIsNotAnObject(t *testing.T) {
	for name, data := range map[string]string{
		"list":   "- a\n- b\n",
		"syntax": "kind: [\n",
		"scalar": "just text\n",
	} {
		if _, err := Parse("in.yaml", []byte(data)); err == nil || !strings.HasPrefix(err.Error(), "in.yaml") {
			t.Errorf("%s: error %v, want one naming in.yaml", name, err)
		}
	}
}
