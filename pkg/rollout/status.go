package rollout

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
)

// progressDeadlineExceeded is the reason of the Progressing condition of a
// Deployment whose rollout made no progress within progressDeadlineSeconds.
const progressDeadlineExceeded = "ProgressDeadlineExceeded"

// DeploymentStatus says whether d is rolled out, as kubectl rollout status
// does (kubectl's DeploymentStatusViewer.Status, without a revision): msg
// describes the progress, done is true once every replica is updated and
// available, and err is set when the rollout exceeded its progress
// deadline. It is a copy rather than a call, to keep kubectl's dependencies
// out of the binary; a test holds it to kubectl's Status.
func DeploymentStatus(d *appsv1.Deployment) (msg string, done bool, err error) {
	if d.Generation > d.Status.ObservedGeneration {
		return "Waiting for deployment spec update to be observed...", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			if c.Reason == progressDeadlineExceeded {
				return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
			}
			break
		}
	}
	s := d.Status
	if d.Spec.Replicas != nil && s.UpdatedReplicas < *d.Spec.Replicas {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", d.Name, s.UpdatedReplicas, *d.Spec.Replicas), false, nil
	}
	if s.Replicas > s.UpdatedReplicas {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", d.Name, s.Replicas-s.UpdatedReplicas), false, nil
	}
	if s.AvailableReplicas < s.UpdatedReplicas {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", d.Name, s.AvailableReplicas, s.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out", d.Name), true, nil
}
