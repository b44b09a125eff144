package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// EncodeEntry is the cache ConfigMap value of a defaulted service: its JSON,
// indented so that the ConfigMap reads well, which the rollout step reads
// back with DecodeEntry. It holds everything the step may act on, so nothing
// it rolls comes from event text.
func EncodeEntry(s Service) (string, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	return string(data) + "\n", err
}

// DecodeEntry reads a cache entry written by EncodeEntry; unknown fields
// are an error.
func DecodeEntry(data []byte) (Service, error) {
	var s Service
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Service{}, fmt.Errorf("cache entry: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Service{}, fmt.Errorf("cache entry: data after the service")
	}
	if len(s.Targets) == 0 {
		return Service{}, fmt.Errorf("cache entry of service %q lists no targets", s.Name)
	}
	return s, nil
}
