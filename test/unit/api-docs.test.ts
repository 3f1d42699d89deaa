import test from 'ava';
import ts from 'typescript';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Issue 19: TSDoc on every exported member of the package entry, and on every public member of
// the Vpcctl facade; its internals (store, engine, change) are not public.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('every export of src/index.ts and every public member of Vpcctl is documented; internals are private', (t) => {
  const entry = join(ROOT, 'src', 'index.ts');
  const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, noEmit: true });
  const checker = program.getTypeChecker();
  const mod = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const undocumented: string[] = [];
  const documented = (s: ts.Symbol) => s.getDocumentationComment(checker).length > 0;
  const exports = checker.getExportsOfModule(mod);
  t.true(exports.length > 30);
  for (const e of exports) {
    const target = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
    if (!documented(target)) undocumented.push(e.getName());
  }
  const vpcctl = checker.getAliasedSymbol(exports.find((e) => e.getName() === 'Vpcctl')!);
  const instance = checker.getDeclaredTypeOfSymbol(vpcctl);
  const publicMembers = instance.getProperties().filter((p) => {
    const flags = p.valueDeclaration ? ts.getCombinedModifierFlags(p.valueDeclaration) : 0;
    return !(flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected));
  });
  for (const m of publicMembers) if (!documented(m)) undocumented.push(`Vpcctl.${m.getName()}`);
  t.deepEqual(undocumented, []);
  const names = publicMembers.map((m) => m.getName());
  for (const internal of ['store', 'engine', 'change']) t.false(names.includes(internal), `${internal} is not public`);
  for (const method of ['apply', 'destroy', 'applyPolicy', 'deleteVpc', 'createVpc']) t.true(names.includes(method));
});
