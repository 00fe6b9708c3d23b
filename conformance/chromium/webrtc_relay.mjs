// WebRTC through our TURN server with Chromium's own ICE/TURN stack (see 70-chromium-webrtc.sh).
//
// Connects with playwright-core over the DevTools protocol to a Chromium that the calling script
// started (it never starts or downloads a browser itself), opens one page in a fresh browser
// context, and there runs two RTCPeerConnections that may only use relay candidates
// (iceTransportPolicy 'relay') from one ICE server: the TURN URL under test.  Offer and answer are
// exchanged inside the page after ICE gathering completed (no trickle, no signalling server).
// A DataChannel carries a text and a binary message each way, then getStats() of both sides is read.
//
// While the connection is still up, every relay candidate port is checked on the server side:
// it must be a UDP socket on 127.0.0.1 inside --min-port..--max-port that the server process
// (--server-pid) holds open (found through /proc/net/udp and /proc/PID/fd), so the traffic
// cannot have gone anywhere else.
//
// Output on stdout, one fact per line:
//   gathered <side> <n> relay candidates: <address:port> ...
//   selected <side> <local-type> <local-relayProtocol> <ip> <port> <remote-type> <ip> <port>
//   received <side> <text> <binary-bytes>
//   pair <side> bytesSent <n> bytesReceived <n>
//   server-socket <port> <inode>       a relay port held by the server process
// Errors go to stderr as "error: ..." with exit status 1.
import { chromium } from 'playwright-core';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

function parseArgs(argv) {
    const args = {};
    for (let i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`usage: bad argument ${argv[i]}`);
        args[argv[i].slice(2)] = argv[i + 1];
    }
    for (const key of ['cdp', 'url', 'username', 'password', 'server-pid', 'min-port', 'max-port']) {
        if (!(key in args)) throw new Error(`usage: --${key} is required`);
    }
    return args;
}

// Runs inside the page.  Returns a plain object (facts or an error text), never throws.
async function inPage({ url, username, credential, limitMs }) {
    const facts = { gathered: {}, errors: [], received: {}, selected: {}, pairs: {} };
    const deadline = Date.now() + limitMs;
    const until = (what, promise) => Promise.race([
        promise,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)),
            Math.max(0, deadline - Date.now()))),
    ]);
    const config = { iceServers: [{ urls: [url], username, credential }], iceTransportPolicy: 'relay' };
    const pcs = { offerer: new RTCPeerConnection(config), answerer: new RTCPeerConnection(config) };
    try {
        for (const [side, pc] of Object.entries(pcs)) {
            facts.gathered[side] = [];
            pc.onicecandidate = e => {
                if (e.candidate && e.candidate.candidate) facts.gathered[side].push(e.candidate.candidate);
            };
            pc.onicecandidateerror = e =>
                facts.errors.push(`${side}: ${e.url} ${e.errorCode} ${e.errorText}`);
        }
        const gatheringDone = pc => new Promise(resolve => {
            if (pc.iceGatheringState === 'complete') return resolve();
            pc.addEventListener('icegatheringstatechange', () => {
                if (pc.iceGatheringState === 'complete') resolve();
            });
        });
        const { offerer, answerer } = pcs;
        const channelA = offerer.createDataChannel('conformance', { ordered: true });
        channelA.binaryType = 'arraybuffer';
        const channelB = new Promise(resolve => { answerer.ondatachannel = e => resolve(e.channel); });

        await offerer.setLocalDescription(await offerer.createOffer());
        await until('offerer ICE gathering', gatheringDone(offerer));
        await answerer.setRemoteDescription(offerer.localDescription);
        await answerer.setLocalDescription(await answerer.createAnswer());
        await until('answerer ICE gathering', gatheringDone(answerer));
        await offerer.setRemoteDescription(answerer.localDescription);
        if (facts.gathered.offerer.length === 0 || facts.gathered.answerer.length === 0) {
            facts.error = 'a side gathered no relay candidate';
            return facts;
        }

        const opened = ch => new Promise((resolve, reject) => {
            if (ch.readyState === 'open') return resolve(ch);
            ch.onopen = () => resolve(ch);
            ch.onerror = e => reject(new Error(`DataChannel error: ${e.error && e.error.message}`));
        });
        const b = await until('the DataChannel to open', channelB.then(opened));
        b.binaryType = 'arraybuffer';
        await until('the offerer DataChannel to open', opened(channelA));

        // Two messages each way: a text and 1000 bytes of binary (0, 1, 2, ... mod 251).
        const expectBinary = new Uint8Array(1000).map((_, i) => i % 251);
        const collect = (ch, side) => new Promise(resolve => {
            const got = [];
            ch.onmessage = e => {
                got.push(e.data);
                if (got.length === 2) {
                    const text = typeof got[0] === 'string' ? got[0] : '?';
                    const bin = got[1] instanceof ArrayBuffer ? new Uint8Array(got[1]) : new Uint8Array(0);
                    const intact = bin.length === expectBinary.length && bin.every((v, i) => v === expectBinary[i]);
                    facts.received[side] = `${text} ${intact ? bin.length : 'corrupt-' + bin.length}`;
                    resolve();
                }
            };
        });
        const atB = collect(b, 'answerer');
        const atA = collect(channelA, 'offerer');
        channelA.send('hello-from-offerer');
        channelA.send(expectBinary);
        b.send('hello-from-answerer');
        b.send(expectBinary);
        await until('the messages', Promise.all([atA, atB]));

        for (const [side, pc] of Object.entries(pcs)) {
            const stats = await pc.getStats();
            let pair = null;
            stats.forEach(s => {
                if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
            });
            if (!pair) {
                stats.forEach(s => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
            }
            if (!pair) {
                facts.error = `${side}: getStats() has no selected candidate pair`;
                return facts;
            }
            const local = stats.get(pair.localCandidateId);
            const remote = stats.get(pair.remoteCandidateId);
            facts.selected[side] = {
                localType: local.candidateType, relayProtocol: local.relayProtocol || '-',
                localAddress: local.address, localPort: local.port,
                remoteType: remote.candidateType, remoteAddress: remote.address, remotePort: remote.port,
            };
            facts.pairs[side] = { bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived };
        }
        return facts;
    } catch (e) {
        facts.error = String(e && e.message || e);
        return facts;
    }
}

// The inode of the UDP socket bound to 127.0.0.1:port, or null (/proc/net/udp, addresses in hex).
function udpInode(port) {
    const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[1] === want) return cols[9];
    }
    return null;
}

function heldBy(pid, inode) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
            if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return true;
        } catch { /* the descriptor closed meanwhile */ }
    }
    return false;
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const limitMs = Number(args['limit-seconds'] || 40) * 1000;
    const browser = await chromium.connectOverCDP(args.cdp, { timeout: 15000 });
    let context;
    try {
        context = await browser.newContext();
        const page = await context.newPage();
        page.on('console', m => console.error(`# console.${m.type()}: ${m.text()}`));
        await page.goto(args.page || 'about:blank');
        const facts = await page.evaluate(inPage, {
            url: args.url, username: args.username, credential: args.password, limitMs,
        });
        for (const [side, cands] of Object.entries(facts.gathered || {})) {
            console.log(`gathered ${side} ${cands.length} relay candidates: ${cands.join(' | ')}`);
        }
        for (const e of facts.errors || []) console.error(`# icecandidateerror ${e}`);
        for (const [side, r] of Object.entries(facts.received || {})) console.log(`received ${side} ${r}`);
        for (const [side, s] of Object.entries(facts.selected || {})) {
            console.log(`selected ${side} ${s.localType} ${s.relayProtocol} ${s.localAddress} ${s.localPort} ` +
                `${s.remoteType} ${s.remoteAddress} ${s.remotePort}`);
        }
        for (const [side, p] of Object.entries(facts.pairs || {})) {
            console.log(`pair ${side} bytesSent ${p.bytesSent} bytesReceived ${p.bytesReceived}`);
        }
        if (facts.error) throw new Error(facts.error);

        // Server side, while both allocations are alive: every relay port is the server's.
        const pid = Number(args['server-pid']);
        const min = Number(args['min-port']);
        const max = Number(args['max-port']);
        const ports = new Set();
        for (const s of Object.values(facts.selected)) {
            ports.add(s.localPort);
            ports.add(s.remotePort);
        }
        for (const port of ports) {
            if (!(port >= min && port <= max)) throw new Error(`relay port ${port} is outside ${min}-${max}`);
            const inode = udpInode(port);
            if (!inode || !heldBy(pid, inode)) {
                throw new Error(`no UDP socket on 127.0.0.1:${port} held by the server process ${pid}`);
            }
            console.log(`server-socket ${port} ${inode}`);
        }
    } finally {
        if (context) await context.close().catch(() => {});
        await browser.close().catch(() => {});
    }
}

main().then(() => process.exit(0), e => {
    console.error(`error: ${e && e.message || e}`);
    process.exit(1);
});
