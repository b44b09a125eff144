package pubsub

import (
	"context"
	"reflect"
	"testing"

	eventsv1alpha1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/eventsources/events"
	"github.com/argoproj/argo-events/pkg/eventsources/sources/gcppubsub"
)

// EventData has upstream's fields, types and tags, in its order.
func TestEventDataIsUpstreams(t *testing.T) {
	ours, theirs := reflect.TypeOf(EventData{}), reflect.TypeOf(events.PubSubEventData{})
	if ours.NumField() != theirs.NumField() {
		t.Fatalf("%d fields, upstream has %d", ours.NumField(), theirs.NumField())
	}
	for i := range ours.NumField() {
		o, u := ours.Field(i), theirs.Field(i)
		if o.Name != u.Name || o.Type != u.Type || o.Tag != u.Tag {
			t.Errorf("field %d: %s %s %q, upstream %s %s %q", i, o.Name, o.Type, o.Tag, u.Name, u.Type, u.Tag)
		}
	}
}

// Validate says what the Pub/Sub source's own ValidateEventSource says,
// for every combination of the fields it reads, and then some.
func TestValidateIsUpstreams(t *testing.T) {
	values := []string{"", "p", "t"}
	var cases []*eventsv1alpha1.PubSubEventSource
	for _, project := range values {
		for _, topicProject := range values {
			for _, topic := range values {
				for _, sub := range values {
					for _, creds := range []*eventsv1alpha1.PubSubEventSource{{}, {JSONBody: true, DeleteSubscriptionOnFinish: true}} {
						src := *creds
						src.ProjectID, src.TopicProjectID, src.Topic, src.SubscriptionID = project, topicProject, topic, sub
						cases = append(cases, &src)
					}
				}
			}
		}
	}
	for _, src := range cases {
		want := (&gcppubsub.EventListener{PubSubEventSource: *src}).ValidateEventSource(context.Background())
		if got := Validate(src); (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
			t.Errorf("%+v: got %v, upstream %v", *src, got, want)
		}
	}
	if got := Validate(nil); got != eventsv1alpha1.ErrNilEventSource {
		t.Errorf("nil: got %v", got)
	}
}
