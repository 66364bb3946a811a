// The auction page made live: updates pushed by the server (server-sent events), the countdown by the server's clock,
// and the sealed-bid commitment, computed here so the amount never leaves the browser before the reveal.
(function(){
// SHA-256(tag ‖ len(session) ‖ session ‖ len(bidder) ‖ bidder ‖ amount ‖ nonce), lengths 4-byte and the amount 8-byte
// big-endian (docs/api.md), as hex: a promise.
function hex(a){return Array.from(new Uint8Array(a)).map(function(x){return('0'+x.toString(16)).slice(-2);}).join('');}
function sealedCommitment(session,bidder,cents,nonce){
var enc=new TextEncoder();var tag=enc.encode('ttx/sealed-bid/v1');var sid=enc.encode(session);var bid=enc.encode(bidder);
var buf=new Uint8Array(tag.length+4+sid.length+4+bid.length+8+32);var dv=new DataView(buf.buffer);var o=0;
buf.set(tag,o);o+=tag.length;dv.setUint32(o,sid.length);o+=4;buf.set(sid,o);o+=sid.length;dv.setUint32(o,bid.length);o+=4;buf.set(bid,o);o+=bid.length;
dv.setBigInt64(o,BigInt(cents));o+=8;buf.set(nonce,o);
return crypto.subtle.digest('SHA-256',buf).then(hex);}
window.ttxSealedCommitment=sealedCommitment;
var root=document.getElementById('auction');if(!root)return;
var skew=0;function sync(t){if(t)skew=Date.parse(t)-Date.now();}
sync(document.getElementById('server-time').getAttribute('datetime'));
function yuan(f){var w=Math.floor(f/100).toString().replace(/\B(?=(\d{3})+(?!\d))/g,',');var c=f%100;return '¥'+w+(c?'.'+(c<10?'0':'')+c:'');}
function tick(){var e=document.getElementById('ends');var end=Date.parse(e.getAttribute('datetime'));var s=Math.max(0,Math.floor((end-(Date.now()+skew))/1000));
document.getElementById('countdown').textContent=Math.floor(s/3600)+':'+('0'+Math.floor(s%3600/60)).slice(-2)+':'+('0'+s%60).slice(-2);}
tick();setInterval(tick,1000);
var src=new EventSource(root.dataset.live);
src.addEventListener('session',function(m){var v=JSON.parse(m.data);sync(v.server_time);
document.getElementById('ends').setAttribute('datetime',v.ends_at||'');
var list=document.getElementById('bids');list.innerHTML='';list.start=v.bid_count;
v.bids.slice().reverse().forEach(function(b){var li=document.createElement('li');if(b.mine)li.className='mine';li.textContent=yuan(b.amount_fen)+' · '+b.bidder;list.appendChild(li);});
var high=v.bids.length?v.bids[v.bids.length-1].amount_fen:null;document.getElementById('high').textContent=high===null?'—':yuan(high);
document.getElementById('phase').textContent=root.dataset['phase'+v.phase]||v.phase;
var amount=document.getElementById('amount');if(amount&&high!==null&&document.activeElement!==amount){amount.value=((high+Number(root.dataset.increment))/100).toString();}
tick();});
var commit=document.getElementById('commit-form');
if(commit){commit.addEventListener('submit',function(ev){ev.preventDefault();
var cents=Math.round(parseFloat(document.getElementById('sealed-amount').value)*100);if(!(cents>0))return;
var nonce=new Uint8Array(32);crypto.getRandomValues(nonce);
sealedCommitment(root.dataset.session,root.dataset.bidder,cents,nonce).then(function(c){
localStorage.setItem('ttx-sealed-'+root.dataset.session,JSON.stringify({amount_fen:cents,nonce:hex(nonce)}));
document.getElementById('commitment').value=c;commit.submit();});});}
var reveal=document.getElementById('reveal-form');
if(reveal){var kept=localStorage.getItem('ttx-sealed-'+root.dataset.session);if(kept){var k=JSON.parse(kept);document.getElementById('reveal-amount').value=k.amount_fen;document.getElementById('reveal-nonce').value=k.nonce;}}
})();
