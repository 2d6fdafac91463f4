// Packages loaded on demand (prompts, the config file's YAML parser) are imported through the entry
// script's own import() when there is one: the bundled CLI runs inside vm.Script, whose code cannot
// call import() itself. From the compiled tree (tests), the plain import() is used.
type Importer = (specifier: string) => Promise<unknown>;

export function importOnDemand<T>(specifier: string): Promise<T> {
  const viaEntry = (globalThis as { __kmsctlImport?: Importer }).__kmsctlImport;
  return (viaEntry ? viaEntry(specifier) : import(specifier)) as Promise<T>;
}
