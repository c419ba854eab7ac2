/* Leadforge tracker: what it sends and why is told in app/site/serving.py (TRACKER). */
(function(w,d){
var a,n=w.navigator,L=w.location,U=/^[0-9a-f-]{36}$/i,q=[],st,ur,S,i,vid,sid,src,att,ses,acted,touched,depth,go,vis,t0,gone;
function ck(k,v,age){
if(v==null)return(d.cookie.match("(^|; )"+k+"=([^;]*)")||[])[2]||"";
d.cookie=k+"="+v+";Max-Age="+age+";Path=/;SameSite=Lax"+(L.protocol=="https:"?";Secure":"")}
function host(u){try{return new URL(u).hostname.replace(/^www\./,"")}catch(e){return""}}
function stepOf(u){u=(u||"").split(/[?#]/)[0].replace(/\/$/,"");return u&&st[ur.indexOf(u)]}
function send(b){
if(!q.length)return;
ck("lf_ses",ses,1800);
b=JSON.stringify(q.splice(0,50));
try{if(n.sendBeacon(a.endpoint,new Blob([b],{type:"text/plain"})))return send()}catch(x){}
try{fetch(a.endpoint,{method:"POST",body:b,keepalive:true,credentials:"omit",mode:"no-cors",
headers:{"Content-Type":"text/plain"}}).catch(String)}catch(x){}
send()}
function ev(type,x){q.push(Object.assign({event_type:type,funnel_id:a.funnel,page_id:a.page,funnel_step_id:S,
variant_id:a.variant,session_id:sid,visitor_id:vid,url:L.href,referrer:d.referrer,source:src},att,x))}
function scrolled(){depth=Math.max(depth,(scrollY+innerHeight)/d.documentElement.scrollHeight)}
function enter(){
var p=new URLSearchParams(L.search),s=ck("lf_ses").split("|").map(decodeURIComponent),r=host(d.referrer),
u=p.get("utm_source"),fresh=(u||(r!=host(L.href)?r:"")).toLowerCase(),nv,start,m;
vid=ck("lf_vid");nv=!U.test(vid);
if(nv)vid=crypto.randomUUID();
ck("lf_vid",vid,63072000);
try{m=localStorage.lf_seen;localStorage.lf_seen=vid}catch(e){m=vid}
nv=nv||m!=vid;
sid=s[0];src=s[1];
start=!U.test(sid)||!!fresh&&fresh!=src;
if(start){sid=crypto.randomUUID();src=fresh||"direct";s=[0,0,p.get("utm_medium"),p.get("utm_campaign")]}
att={utm_source:u,utm_medium:s[2],utm_campaign:s[3]};
ses=[sid,src,s[2]||"",s[3]||""].map(encodeURIComponent).join("|");
try{m=(sessionStorage.lf_step||"").split("|");sessionStorage.lf_step=[sid,a.funnel,S].join("|")}catch(e){m=[]}
acted=touched=gone=vis=depth=0;go=null;t0=d.hidden?0:Date.now();
scrolled();
ev("page_view",{session_start:start,new_visitor:nv});
ev("step_entry",{new_visitor:nv,previous_step_id:m[0]==sid&&m[1]==a.funnel&&m[2]!=S?m[2]:null});
send()}
function leave(){
if(!gone){gone=1;vis+=t0?Date.now()-t0:0;t0=0;
ev("step_exit",{exit_outcome:go?go.o:acted?"close":"bounce",next_step_id:go&&go.n,
exit_reason:go?go.r:touched?"form_abandoned":!acted?"no_interaction":depth<.25?"scrolled_less_than_25":"no_action",
time_on_step_seconds:Math.round(vis/1000)})}
send()}
function on(t,type,f,c){t.addEventListener(type,function(e){try{f(e)}catch(x){}},c)}
function act(){acted=1}
function ahead(s){go={o:s&&st.indexOf(s)<i?"backward":"forward",n:s}}
try{
a=(d.currentScript||d.querySelector("script[data-endpoint]")).dataset;
st=(a.steps||"").split(",");ur=(a.urls||"").split(",");S=a.step;i=st.indexOf(S);
if(a.dnt=="1"&&n.doNotTrack=="1")return;
enter();
on(d,"pointerdown",act,true);
on(d,"keydown",act,true);
on(w,"scroll",function(){act();scrolled()});
on(d,"input",function(e){if(e.target.form)acted=touched=1},true);
on(d,"click",function(e){
var l=e.target.closest("a[href]"),s;
if(!l||l.target=="_blank"||e.ctrlKey||e.metaKey)return;
s=stepOf(l.href);
if(s&&s!=S)ahead(s);
else if(!s&&/^http/.test(l.href)&&host(l.href)!=host(L.href))go={o:"bounce",r:"external_link"}});
on(d,"submit",function(e){
var f=e.target;
if(f.matches("[data-checkout]")||f.lfSent)return;
f.lfSent=ahead(st[i+1])||1;
if(f.matches(".lf-form")){
ev("conversion",{conversion_type:"form_submit",metadata:{form_id:(f.elements.form_id||{}).value}});
setTimeout(send,3000)}});
on(d,"lf:purchase",function(e){
e=e.detail;
ev("conversion",{conversion_type:"purchase",value_cents:e.value_cents,metadata:{order_id:e.order_id}});
ahead(stepOf(e.next_url)||st[i+1]);
send()});
on(d,"visibilitychange",function(){if(d.hidden)leave();else if(!gone&&!t0)t0=Date.now()});
on(w,"pagehide",leave);
on(w,"pageshow",function(e){if(e.persisted)enter()});
}catch(e){}
})(window,document);
