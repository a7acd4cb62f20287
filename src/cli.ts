// `npm run dev`: the orchestrator's command line from the TypeScript sources (tsx), restarted on change.
import { main } from './main.ts';

await main(process.argv.slice(2));
