// Package pubsub is what argodeploy needs of Argo Events' Pub/Sub event
// source, restated so that the binary does not link the packages they
// live in: the event data the source sends (upstream's
// events.PubSubEventData, whose package links every event source's SDK
// types: aws-sdk-go and stripe-go's initialisers alone take 45 ms of every
// start) and the source's own validation (gcppubsub's validate). The
// tests hold both to the upstream code, which stays the final word.
package pubsub

import (
	"fmt"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
)

// EventData is the data of the event a Pub/Sub EventSource sends for a
// message (Argo Events v1.9.11, pkg/eventsources/events.PubSubEventData).
type EventData struct {
	// ID of the message
	ID string `json:"id"`
	// Body is the actual data in the message.
	Body interface{} `json:"body"`
	// Attributes represents the key-value pairs the current message
	// is labelled with.
	Attributes map[string]string `json:"attributes"`
	// The time at which the message was published.
	PublishTime string `json:"publishTime"`
	// Metadata holds the user defined metadata which will passed along the event payload.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Validate is what the Pub/Sub EventSource checks of its configuration
// before it starts (Argo Events v1.9.11,
// pkg/eventsources/sources/gcppubsub/validate.go).
func Validate(src *eventsv1alpha1.PubSubEventSource) error {
	if src == nil {
		return eventsv1alpha1.ErrNilEventSource
	}
	if src.TopicProjectID != "" && src.Topic == "" {
		return fmt.Errorf("you can't specify topicProjectID if you don't specify topic")
	}
	if src.Topic == "" && src.SubscriptionID == "" {
		return fmt.Errorf("must specify topic or subscriptionID")
	}
	return nil
}
