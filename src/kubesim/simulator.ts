import type { LocalEtcdCluster } from "../localetcd/cluster.js";
import { type ControllerOptions, HyperShiftControllers } from "./controllers.js";
import { type SeededHostedCluster, type SeedOptions, seedHostedCluster } from "./seed.js";
import { KubeApiServer, type KubeSimServerOptions } from "./server.js";

export interface KubeSimOptions extends KubeSimServerOptions {
  readonly controllers?: ControllerOptions;
  readonly seed?: SeedOptions;
}

/**
 * A kube-apiserver with HyperShift on it, for the hosted-cluster backup's tests and demo: the API
 * server, HyperShift's controllers and a preloaded hosted cluster whose etcd pods forward to `etcd`.
 */
export class KubeSim {
  private constructor(
    readonly api: KubeApiServer,
    readonly controllers: HyperShiftControllers,
    readonly hostedCluster: SeededHostedCluster,
  ) {}

  static async start(etcd: LocalEtcdCluster, options: KubeSimOptions = {}): Promise<KubeSim> {
    const api = await KubeApiServer.start(options);
    try {
      const seeded = await seedHostedCluster(api, etcd, options.seed);
      const controllers = new HyperShiftControllers(api.store, api.clock, options.controllers);
      return new KubeSim(api, controllers, seeded);
    } catch (err) {
      await api.stop();
      throw err;
    }
  }

  get url(): string {
    return this.api.url;
  }

  get token(): string {
    return this.api.token;
  }

  get clock(): KubeApiServer["clock"] {
    return this.api.clock;
  }

  get faults(): KubeApiServer["faults"] {
    return this.api.faults;
  }

  get store(): KubeApiServer["store"] {
    return this.api.store;
  }

  kubeconfig(path?: string): Promise<string> {
    return this.api.kubeconfig(path);
  }

  /** Stops the controllers' timers, then the server (connections, watches, port-forwards, temp dir). */
  async stop(): Promise<void> {
    this.controllers.stop();
    await this.api.stop();
  }
}
