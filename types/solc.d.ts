// solc-js ships no type declarations; the tests use only its standard-JSON compile entry point.
declare module 'solc' {
  const solc: { compile(input: string): string; version(): string };
  export default solc;
}
