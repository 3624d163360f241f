export { SimClock } from "./clock.js";
export { type ControllerOptions, HyperShiftControllers } from "./controllers.js";
export {
  type ConditionStatus,
  ETCD_INIT_CONTAINER,
  ETCD_SNAPSHOT_RESTORED,
  EtcdRestoreScenario,
} from "./etcd-restore.js";
export { FaultInjector, type FaultMatch, type FaultRule } from "./faults.js";
export { controlPlaneNamespace, WRITER_DEPLOYMENTS } from "./names.js";
export { pauseState, reconciliationActive } from "./paused.js";
export { FORWARD_ANNOTATION_PREFIX } from "./portforward.js";
export { type SeededHostedCluster, type SeedOptions, seedHostedCluster } from "./seed.js";
export { KubeApiServer, type KubeSimServerOptions } from "./server.js";
export { KubeSim, type KubeSimOptions } from "./simulator.js";
export { KubeStatusError } from "./status.js";
export { KUBESIM_DIR_PREFIX } from "./tempdir.js";
