// peaqos-machine-markets/client: the fetch client generated from openapi.yaml (one function per operation, typed
// requests and responses), with createClient to point it at a deployment.
export * from '../generated/index.ts';
export { client } from '../generated/client.gen.ts';
export {
  createClient,
  createConfig,
  type Client,
  type Config as ClientConfig,
  type Options as RequestOptions,
} from '../generated/client/index.ts';
