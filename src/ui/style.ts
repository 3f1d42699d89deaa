/** The dashboard's stylesheet, inlined in the page (page.ts) and allowed by its hash. */
export const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:13px/1.4 'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2933;background:#eef1f5}
#app{height:100vh;display:flex;flex-direction:column}
header{display:flex;gap:10px;align-items:center;padding:6px 12px;background:#243447;color:#fff;flex-wrap:wrap}
header h1{font-size:15px;margin:0 8px 0 0}
header .dot{width:10px;height:10px;border-radius:50%;background:#c0392b;display:inline-block}
header .dot.on{background:#2ecc71}
header .badge{background:#b7860b;border-radius:3px;padding:1px 6px;font-size:11px}
header .badge.alert{background:#c0392b}
header select,header input,header button{font:inherit;padding:2px 6px}
header input.port{width:70px}
main{flex:1;display:flex;min-height:0}
#canvas{flex:1;overflow:hidden;position:relative;background:#fff;cursor:grab}
#canvas svg{width:100%;height:100%;display:block;user-select:none}
aside{width:420px;overflow:auto;border-left:1px solid #ccd3dc;background:#fafbfc;padding:10px 12px}
aside h2{font-size:14px;margin:4px 0 6px}
aside h3{font-size:12px;margin:12px 0 4px;text-transform:uppercase;color:#5f6b7a}
aside table{border-collapse:collapse;width:100%;font-size:12px}
aside td,aside th{border-bottom:1px solid #e1e5ea;padding:2px 4px;text-align:left;vertical-align:top}
aside pre{background:#1f2933;color:#e6edf3;padding:6px;font-size:11px;white-space:pre-wrap;margin:2px 0 6px;max-height:140px;overflow:auto}
aside textarea{width:100%;height:140px;font:12px Menlo,Consolas,monospace}
.mono{font-family:Menlo,Consolas,'DejaVu Sans Mono',monospace}
.ok{color:#2e7d32}.bad{color:#c0392b}.muted{color:#5f6b7a}
.error{color:#c0392b;white-space:pre-wrap}
.drift{background:#fdecea;border:1px solid #c0392b;padding:4px 6px;margin:4px 0;color:#8e1f14}
#flow{height:130px;overflow:auto;border-top:1px solid #ccd3dc;background:#1f2933;color:#e6edf3;font:11px Menlo,Consolas,monospace;padding:4px 8px;display:none}
#flow.on{display:block}
#flow .REJECT,#flow .DROP{color:#ff8a80}
#matrix table{border-collapse:collapse;font-size:10px}
#matrix td{width:14px;height:14px;border:1px solid #fff;padding:0}
#matrix td.y{background:#2e7d32}#matrix td.n{background:#c0392b}#matrix td.diff{outline:2px solid #f1c40f}
#matrix th{font-weight:normal;text-align:right;padding-right:4px;white-space:nowrap}
svg text{pointer-events:none}
svg .tile{cursor:pointer}
svg .tile rect{stroke-width:1.2}
svg .tile.sel rect{stroke:#1565c0;stroke-width:3}
svg .tile.drift rect{stroke:#c0392b;stroke-width:3;stroke-dasharray:5 3}
svg .tile.hit rect{stroke-width:3}
svg .tile.hidden-by-filter{opacity:.15}
svg .more{cursor:pointer}
svg .vpc.drift > rect{stroke:#c0392b;stroke-dasharray:6 3}
`;
