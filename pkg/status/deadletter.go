package status

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/argodeploy/argodeploy/pkg/render"
)

// deadLetterSelector selects the dead letters of a pipeline.
func deadLetterSelector(pipeline string) string {
	return render.LabelDeadLetter + "=true," + render.LabelPartOf + "=" + pipeline
}

// Bound is how many dead letters a pipeline keeps, and for how long.
type Bound struct {
	Keep   int
	MaxAge time.Duration
}

// Expired picks, from dead letters, those past the bound at now: every one
// created more than MaxAge ago, then the oldest of the rest beyond Keep.
// Ties in creation time go by name, so two passes pick the same ones.
func (b Bound) Expired(cms []corev1.ConfigMap, now time.Time) []corev1.ConfigMap {
	sorted := slices.Clone(cms)
	slices.SortFunc(sorted, func(x, y corev1.ConfigMap) int { // newest first
		if c := y.CreationTimestamp.Compare(x.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(y.Name, x.Name)
	})
	var out []corev1.ConfigMap
	kept := 0
	for _, cm := range sorted {
		if now.Sub(cm.CreationTimestamp.Time) > b.MaxAge || kept >= b.Keep {
			out = append(out, cm)
			continue
		}
		kept++
	}
	return out
}

// PruneDeadLetters deletes the dead letters of pipeline in namespace that
// are past the bound at now, each only if it is still the object that was
// listed (its UID; one already gone is fine), and logs each deletion to
// log. With dryRun it deletes nothing and logs what it would delete.
func PruneDeadLetters(ctx context.Context, cms corev1client.ConfigMapsGetter, namespace, pipeline string, b Bound, now time.Time, dryRun bool, log io.Writer) error {
	list, err := cms.ConfigMaps(namespace).List(ctx, metav1.ListOptions{LabelSelector: deadLetterSelector(pipeline)})
	if err != nil {
		return fmt.Errorf("listing the dead letters: %w", err)
	}
	for _, cm := range b.Expired(list.Items, now) {
		dl := ReadDeadLetter(&cm)
		what := fmt.Sprintf("dead letter %s (created %s; keep %d, at most %s): %s %s", cm.Name, dl.Created, b.Keep, b.MaxAge, orUnknown(dl.Tag), orUnknown(dl.Digest))
		if dryRun {
			fmt.Fprintf(log, "argodeploy: would delete %s\n", what)
			continue
		}
		uid := cm.UID
		err := cms.ConfigMaps(namespace).Delete(ctx, cm.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting dead letter %s: %w", cm.Name, err)
		}
		fmt.Fprintf(log, "argodeploy: deleted %s\n", what)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(no registry message)"
	}
	return s
}
