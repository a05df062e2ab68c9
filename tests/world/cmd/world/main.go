package main

import (
	_ "knative.dev/serving/pkg/reconciler/configuration"
	_ "knative.dev/serving/pkg/reconciler/gc"
	_ "knative.dev/serving/pkg/reconciler/labeler"
	_ "knative.dev/serving/pkg/reconciler/revision"
	_ "knative.dev/serving/pkg/reconciler/route"
	_ "knative.dev/serving/pkg/reconciler/serverlessservice"
	_ "knative.dev/serving/pkg/reconciler/service"
	_ "knative.dev/pkg/injection/sharedmain"
	_ "k8s.io/client-go/kubernetes"
)

func main() {}
