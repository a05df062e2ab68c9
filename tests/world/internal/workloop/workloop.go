// Package workloop runs the reconcile loop every fake shares: workers that take keys from a
// rate-limited queue, retry a failed sync with back-off, and requeue a key after the delay a sync
// asks for (timers such as a readiness delay or a Terminating grace).
package workloop

import (
	"context"
	"log"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
)

// Sync reconciles one object; a positive `after` asks to see the key again after that delay.
type Sync func(ctx context.Context, key types.NamespacedName) (after time.Duration, err error)

// Start runs `workers` goroutines over the queue until it shuts down.
func Start(ctx context.Context, name string, workers int, queue workqueue.TypedRateLimitingInterface[types.NamespacedName], sync Sync) {
	for i := 0; i < workers; i++ {
		go func() {
			for next(ctx, name, queue, sync) {
			}
		}()
	}
}

func next(ctx context.Context, name string, queue workqueue.TypedRateLimitingInterface[types.NamespacedName], sync Sync) bool {
	key, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(key)
	after, err := sync(ctx, key)
	if err != nil {
		// Conflicts and vanished objects are routine here: the retry sorts them out quietly.
		if ctx.Err() == nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			log.Printf("%s: %s: %v", name, key, err)
		}
		queue.AddRateLimited(key)
		return true
	}
	queue.Forget(key)
	if after > 0 {
		queue.AddAfter(key, after)
	}
	return true
}
