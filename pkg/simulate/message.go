package simulate

import (
	"bytes"
	"cmp"
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
// `gcloud pubsub subscriptions pull --format=json` (which also prints the
// snake_case names) and push subscriptions ({"message": {...}}) print it.
// Other fields (orderingKey, deliveryAttempt, ...) are ignored.
type pubSubMessage struct {
	Data             *string           `json:"data"`
	Attributes       map[string]string `json:"attributes"`
	MessageID        string            `json:"messageId"`
	MessageIDSnake   string            `json:"message_id"`
	PublishTime      string            `json:"publishTime"`
	PublishTimeSnake string            `json:"publish_time"`
}

// DefaultPublishTime is the publish time of messages that give none, so
// that a replay is deterministic.
var DefaultPublishTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ReadMessages reads a stream of JSON values from r (one document, several,
// or JSON Lines). Each value is a registry notification as Artifact
// Registry publishes it, a Pub/Sub message with base64 "data", an envelope
// {"message": {...}} (a push subscription's, or a pulled message's with its
// ackId), or an array of these (what gcloud pubsub subscriptions pull
// --format=json prints). Messages without a publish time get
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
		values := []json.RawMessage{raw}
		if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
			if err := json.Unmarshal(raw, &values); err != nil {
				return nil, fmt.Errorf("%s: byte %d: %w", name, offset, err)
			}
		}
		for _, v := range values {
			msg, err := parseMessage(v)
			if err != nil {
				return nil, fmt.Errorf("%s: message %d (byte %d): %w", name, len(msgs)+1, offset, err)
			}
			if msg.PublishTime.IsZero() {
				msg.PublishTime = DefaultPublishTime
			}
			msgs = append(msgs, msg)
		}
	}
}

func parseMessage(raw json.RawMessage) (Message, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil || probe == nil {
		return Message{}, fmt.Errorf("%s is not a message: give a JSON object, an Artifact Registry notification such as {\"action\":\"INSERT\",\"digest\":\"...\",\"tag\":\"...\"}, a Pub/Sub message with base64 data, or {\"message\": ...}", kindOf(raw))
	}
	if inner, ok := probe["message"]; ok {
		return parseMessage(inner)
	}
	data, ok := probe["data"]
	if !ok {
		return Message{Data: compact(raw)}, nil // a bare notification
	}
	var m pubSubMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Message{}, fmt.Errorf("a Pub/Sub message has a base64 string data, an attributes object of strings, and string messageId and publishTime: %w", err)
	}
	m.MessageID = cmp.Or(m.MessageID, m.MessageIDSnake)
	m.PublishTime = cmp.Or(m.PublishTime, m.PublishTimeSnake)
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

// kindOf names the JSON value raw for an error.
func kindOf(raw json.RawMessage) string {
	switch t := bytes.TrimSpace(raw); {
	case len(t) == 0:
		return "an empty value"
	case t[0] == '"':
		return "a string"
	case t[0] == '[':
		return "an array inside an array"
	case bytes.Equal(t, []byte("null")):
		return "null"
	case bytes.Equal(t, []byte("true")) || bytes.Equal(t, []byte("false")):
		return "a boolean"
	}
	return "a number"
}

func compact(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return raw
	}
	return buf.Bytes()
}
