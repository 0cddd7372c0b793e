/**
 * `/docs`: a self-contained page rendering /openapi.json (no CDN: dev runs with no network).
 */
export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LN Markets automation API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.5 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:24px;color:#1b1f24}
h1{font-size:22px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
.op{border:1px solid #e3e3e3;border-radius:6px;margin:8px 0;padding:8px 12px}
.m{display:inline-block;min-width:60px;font-weight:700;text-transform:uppercase}
.get{color:#1967d2}.post{color:#188038}.put,.patch{color:#b06000}.delete{color:#c5221f}
code,pre{font:12px ui-monospace,monospace;background:#f6f8fa;border-radius:4px}pre{padding:8px;overflow:auto}
details summary{cursor:pointer}
</style></head><body>
<h1>LN Markets automation API</h1>
<p>Every route is JSON. Authenticate with <code>Authorization: Bearer &lt;jwt or API token&gt;</code>.
Errors are <code>{"error":{"code","message","details"}}</code>. Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r=>r.json()).then(doc=>{
  const byTag={};
  for(const [path,item] of Object.entries(doc.paths||{}))for(const [m,op] of Object.entries(item)){
    const tag=(op.tags&&op.tags[0])||'other';(byTag[tag]=byTag[tag]||[]).push({path,m,op});}
  const el=document.getElementById('ops');el.textContent='';
  const esc=s=>String(s).replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
  for(const [tag,ops] of Object.entries(byTag)){
    const h=document.createElement('h2');h.textContent=tag;el.appendChild(h);
    for(const {path,m,op} of ops){
      const d=document.createElement('div');d.className='op';
      const body=op.requestBody&&op.requestBody.content&&op.requestBody.content['application/json'];
      d.innerHTML='<span class="m '+m+'">'+m+'</span> <code>'+esc(path)+'</code> '+esc(op.summary||'')+
        '<details><summary>details</summary>'+(body?'<p>Body</p><pre>'+esc(JSON.stringify(body.schema,null,2))+'</pre>':'')+
        '<p>Responses</p><pre>'+esc(JSON.stringify(Object.fromEntries(Object.entries(op.responses||{}).map(([k,v])=>[k,v.description])),null,2))+'</pre></details>';
      el.appendChild(d);
    }
  }
  if(doc.components&&doc.components.schemas){const h=document.createElement('h2');h.textContent='schemas';el.appendChild(h);
    const p=document.createElement('pre');p.textContent=JSON.stringify(doc.components.schemas,null,2);el.appendChild(p);}
}).catch(e=>{document.getElementById('ops').textContent='Could not load /openapi.json: '+e});
</script></body></html>`;
