import { defineConfig } from '@hey-api/openapi-ts';

// Types and a fetch client generated from the hand-written contract. `npm run generate` rewrites generated/;
// `npm run check:generated` fails when the committed copy has drifted from openapi.yaml.
export default defineConfig({
  input: 'openapi.yaml',
  output: { path: 'generated', clean: true, importFileExtension: '.ts' },
  plugins: ['@hey-api/typescript', '@hey-api/sdk', '@hey-api/client-fetch'],
});
