package simulate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Message is one Pub/Sub message as the EventSource receives it.
type Message struct {
	ID          string            `json:"id"`
	Data        []byte            `json:"-"` // the payload, e.g. Artifact Registry's {"action":...,"digest":...,"tag":...}
	Attributes  map[string]string `json:"attributes,omitempty"`
	PublishTime time.Time         `json:"publishTime"`
}

// pubSubMessage is a message in the Pub/Sub REST form (data base64), as
// `gcloud pubsub subscriptions pull --format=json` and push subscriptions
// ({"message": {...}}) print it.
type pubSubMessage struct {
	Data        *string           `json:"data"`
	Attributes  map[string]string `json:"attributes"`
	MessageID   string            `json:"messageId"`
	PublishTime string            `json:"publishTime"`
}

// DefaultPublishTime is the publish time of messages that give none, so
// that a replay is deterministic.
var DefaultPublishTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ReadMessages reads a stream of JSON values from r (one document, several,
// or JSON Lines). Each value is a registry notification as Artifact
// Registry publishes it, a Pub/Sub message with base64 "data", or a push
// envelope {"message": {...}}. Messages without a publish time get
// DefaultPublishTime; IDs are left as given (possibly empty).
func ReadMessages(name string, r io.Reader) ([]Message, error) {
	dec := json.NewDecoder(r)
	var msgs []Message
	for {
		var raw json.RawMessage
		offset := dec.InputOffset()
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: message %d (byte %d): %w", name, len(msgs)+1, offset, err)
		}
		msg, err := parseMessage(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: message %d (byte %d): %w", name, len(msgs)+1, offset, err)
		}
		if msg.PublishTime.IsZero() {
			msg.PublishTime = DefaultPublishTime
		}
		msgs = append(msgs, msg)
	}
}

func parseMessage(raw json.RawMessage) (Message, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Message{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if inner, ok := probe["message"]; ok {
		return parseMessage(inner)
	}
	data, ok := probe["data"]
	if !ok {
		return Message{Data: compact(raw)}, nil // a bare notification
	}
	var m pubSubMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("a Pub/Sub message has data, attributes, messageId and publishTime: %w", err)
	}
	if m.Data == nil {
		return Message{}, fmt.Errorf("data is %s, want a base64 string", data)
	}
	payload, err := base64.StdEncoding.DecodeString(*m.Data)
	if err != nil {
		return Message{}, fmt.Errorf("data is not base64: %w", err)
	}
	msg := Message{ID: m.MessageID, Data: payload, Attributes: m.Attributes}
	if m.PublishTime != "" {
		if msg.PublishTime, err = time.Parse(time.RFC3339Nano, m.PublishTime); err != nil {
			return Message{}, fmt.Errorf("publishTime: %w", err)
		}
	}
	return msg, nil
}

func compact(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return raw
	}
	return buf.Bytes()
}
