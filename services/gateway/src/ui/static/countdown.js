// The live countdown of a public notice: the server's "now" and the end, ticking in the browser; the page's text is
// right without it.
(function(){var t=document.getElementById('countdown');if(!t)return;var end=Date.parse(t.getAttribute('datetime'));var skew=Date.now()-Number(t.dataset.now);var u=[t.dataset.d,t.dataset.h,t.dataset.m];function tick(){var s=Math.max(0,Math.floor((end-(Date.now()-skew))/1000));t.textContent=Math.floor(s/86400)+' '+u[0]+' '+Math.floor(s%86400/3600)+' '+u[1]+' '+Math.floor(s%3600/60)+' '+u[2]+' '+(s%60)+' s';}tick();setInterval(tick,1000);})();
