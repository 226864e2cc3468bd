/*
 * app.js - fills the live monitoring page (index.html) from GET /api/summary every 2 s.
 *
 * Plain ES5-compatible browser JavaScript with no dependencies, so it runs from the
 * binary's embedded copy on a closed network and from file:// alike. Every value from
 * the server is inserted with textContent, never as HTML: alert summaries and ids come
 * from event data. ?fixture=1 reads fixture-summary.json next to the page instead of
 * the endpoint (development and tests without a backend; over file:// Chromium needs
 * --allow-file-access-from-files for that read).
 */
(function () {
    'use strict';

    var POLL_MS = 2000;
    var TIMEOUT_MS = 5000;
    var CST_MS = 8 * 3600 * 1000; /* shown in China Standard Time whatever the browser's zone */
    var SVG_NS = 'http://www.w3.org/2000/svg';

    var STREAM_ZH = {claims: '结算', inpatient: '住院', invoicing: '进销存'};
    var SEV_ZH = {LOW: '低', MEDIUM: '中', HIGH: '高', CRITICAL: '严重'};
    var SEV_ORDER = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];
    var GRADE_ZH = {A: '低风险', B: '关注', C: '较高', D: '高风险'};

    var params = new URLSearchParams(window.location.search);
    var fixture = params.get('fixture') === '1';
    var url = fixture ? 'fixture-summary.json' : 'api/summary';
    var lastOk = 0; /* browser clock of the last good poll, for the disconnected banner */

    function $(id) { return document.getElementById(id); }

    function el(tag, cls, text) {
        var e = document.createElement(tag);
        if (cls) e.className = cls;
        if (text !== undefined && text !== null) e.textContent = String(text);
        return e;
    }

    function bilingual(tag, cls, zh, en) {
        var e = el(tag, cls, zh);
        if (en) {
            e.appendChild(document.createTextNode(' '));
            e.appendChild(el('small', null, en));
        }
        return e;
    }

    function pad(n) { return (n < 10 ? '0' : '') + n; }

    /* "2026-10-13 08:30:00" in UTC+8; day-based rules use CST days, so the page does too. */
    function fmtTime(ms, withDate) {
        if (typeof ms !== 'number' || !isFinite(ms) || ms <= 0) return '—';
        var d = new Date(ms + CST_MS);
        var t = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds());
        if (!withDate) return t;
        return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' + t;
    }

    function groupDigits(s) { return s.replace(/\B(?=(\d{3})+(?!\d))/g, ','); }

    function fmtInt(n) {
        if (typeof n !== 'number' || !isFinite(n)) return '—';
        return (n < 0 ? '-' : '') + groupDigits(String(Math.round(Math.abs(n))));
    }

    /* Money stays exact: integer fen split into yuan and fen, never through floats. */
    function fmtFen(fen) {
        if (typeof fen !== 'number' || !isFinite(fen)) return '—';
        var neg = fen < 0;
        var a = Math.abs(Math.round(fen));
        var y = Math.floor(a / 100), f = a % 100;
        return (neg ? '-' : '') + '¥' + groupDigits(String(y)) + '.' + pad(f);
    }

    function fmtYuan(str, fen) {
        if (typeof str === 'string' && /^-?\d+\.\d\d$/.test(str)) {
            var neg = str.charAt(0) === '-';
            var s = neg ? str.slice(1) : str;
            var dot = s.indexOf('.');
            return (neg ? '-' : '') + '¥' + groupDigits(s.slice(0, dot)) + s.slice(dot);
        }
        return fmtFen(fen);
    }

    function fmtRate(x) {
        if (typeof x !== 'number' || !isFinite(x)) return '—';
        return x >= 100 ? fmtInt(x) : x.toFixed(1);
    }

    function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

    function sevBadge(sev) {
        var s = String(sev || '').toUpperCase();
        var b = el('span', 'sev sev-' + (SEV_ZH[s] ? s.toLowerCase() : 'unknown'), SEV_ZH[s] || s || '?');
        b.title = s;
        b.setAttribute('data-severity', s);
        return b;
    }

    function gradeBadge(g) {
        var s = String(g || '?').toUpperCase();
        var b = el('span', 'grade grade-' + (GRADE_ZH[s] ? s : 'unknown'), s);
        b.title = (GRADE_ZH[s] || '') + ' grade ' + s;
        b.setAttribute('data-grade', s);
        return b;
    }

    /* ---- header ---------------------------------------------------------------- */

    function setPill(node, cls, zh, en) {
        node.className = 'pill ' + cls;
        clear(node);
        node.appendChild(document.createTextNode(zh + ' '));
        node.appendChild(el('small', null, en));
    }

    function renderHeader(s) {
        setPill($('ready'), s.ready ? 'pill-ok' : 'pill-warn', s.ready ? '就绪' : '未就绪',
                s.ready ? 'ready' : 'not ready');
        $('ruleset').textContent = s.ruleset_version || '—';
        $('updated').textContent = fmtTime(typeof s.now === 'number' ? s.now : Date.now(), true);
        $('dead-letters').textContent = fmtInt(s.dead_lettered);
        $('late-events').textContent = fmtInt(s.late_events);
        $('dead-letters-tile').classList.toggle('warn', s.dead_lettered > 0);
        $('late-events-tile').classList.toggle('warn', s.late_events > 0);
    }

    /* ---- stream tiles ----------------------------------------------------------- */

    function renderStreams(streams) {
        var box = $('streams');
        clear(box);
        (streams || []).forEach(function (st) {
            var tile = el('div', 'tile');
            tile.setAttribute('data-stream', st.stream || '');
            tile.appendChild(bilingual('div', 'label', STREAM_ZH[st.stream] || st.stream || '?', st.stream));
            var topic = el('div', 'topic', st.topic || '');
            topic.title = 'topic ' + (st.topic || '');
            tile.appendChild(topic);
            var figs = el('div', 'figs');
            var rate = el('div', 'fig');
            rate.appendChild(el('span', 'value', fmtRate(st.rate_per_s)));
            rate.appendChild(bilingual('span', 'unit', '条/秒', 'ev/s'));
            var lag = el('div', 'fig' + (st.lag > 0 ? ' lagging' : ''));
            lag.appendChild(el('span', 'value', fmtInt(st.lag)));
            lag.appendChild(bilingual('span', 'unit', '积压', 'lag'));
            figs.appendChild(rate);
            figs.appendChild(lag);
            tile.appendChild(figs);
            tile.appendChild(bilingual('div', 'sub', '已消费 ' + fmtInt(st.consumed), 'consumed'));
            box.appendChild(tile);
        });
        if (!streams || !streams.length) box.appendChild(bilingual('div', 'empty', '暂无数据流', 'no streams'));
    }

    /* ---- alerts per rule: horizontal SVG bars -------------------------------------- */

    function svg(tag, attrs, text) {
        var e = document.createElementNS(SVG_NS, tag);
        for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
        if (text !== undefined) e.textContent = String(text);
        return e;
    }

    function renderRuleChart(rows) {
        var box = $('rule-chart');
        clear(box);
        rows = (rows || []).slice().sort(function (a, b) { return (b.count || 0) - (a.count || 0); });
        if (!rows.length) {
            box.appendChild(bilingual('div', 'empty', '近一小时无告警', 'no alerts in the last hour'));
            return;
        }
        var W = 640, LABEL = 220, NUM = 48, BAR_H = 22, GAP = 8;
        var H = rows.length * (BAR_H + GAP) + GAP;
        var max = 1;
        rows.forEach(function (r) { if (r.count > max) max = r.count; });
        var s = svg('svg', {viewBox: '0 0 ' + W + ' ' + H, width: '100%', role: 'img',
                            'aria-label': '近一小时各规则告警数 alerts per rule in the last hour'});
        rows.forEach(function (r, i) {
            var y = GAP + i * (BAR_H + GAP);
            var w = Math.max(2, Math.round((W - LABEL - NUM) * (r.count || 0) / max));
            var g = svg('g', {'data-rule-id': r.rule_id || ''});
            var title = svg('title', {}, (r.rule_name_zh || '') + ' (' + (r.rule_id || '') + '): ' + r.count);
            g.appendChild(title);
            var name = r.rule_name_zh || r.rule_id || '?';
            if (name.length > 14) name = name.slice(0, 13) + '…';
            g.appendChild(svg('text', {x: LABEL - 8, y: y + BAR_H / 2, 'text-anchor': 'end',
                                       'dominant-baseline': 'central', 'class': 'bar-label'}, name));
            g.appendChild(svg('rect', {x: LABEL, y: y, width: w, height: BAR_H, rx: 3, 'class': 'bar'}));
            g.appendChild(svg('text', {x: LABEL + w + 6, y: y + BAR_H / 2, 'dominant-baseline': 'central',
                                       'class': 'bar-value'}, fmtInt(r.count)));
            s.appendChild(g);
        });
        box.appendChild(s);
    }

    /* ---- newest alerts -------------------------------------------------------------- */

    function renderAlerts(alerts) {
        var body = $('alerts').tBodies[0];
        clear(body);
        (alerts || []).forEach(function (a) {
            var tr = el('tr', 'sev-row-' + String(a.severity || '').toLowerCase());
            tr.setAttribute('data-alert-id', a.alert_id || '');
            var t = el('td', 'time', fmtTime(a.event_time, true));
            t.title = '检测时间 detected ' + fmtTime(a.detection_time, true);
            tr.appendChild(t);
            var rule = el('td', 'rule');
            rule.appendChild(el('div', 'zh', a.rule_name_zh || a.rule_id || '?'));
            rule.appendChild(el('div', 'en', (a.rule_id || '') + (a.pattern ? ' · ' + a.pattern : '')));
            rule.title = a.rule_name_en || '';
            tr.appendChild(rule);
            var sev = el('td');
            sev.appendChild(sevBadge(a.severity));
            tr.appendChild(sev);
            var inst = el('td', 'mono', a.institution_id || '—');
            if (a.region) inst.title = '统筹区 region ' + a.region;
            tr.appendChild(inst);
            var subj = el('td', 'subject');
            subj.appendChild(el('span', 'stype', a.subject_type || ''));
            subj.appendChild(el('span', 'mono', a.subject_id || '—'));
            tr.appendChild(subj);
            tr.appendChild(el('td', 'num money', fmtYuan(a.amount_at_risk_yuan, a.amount_at_risk_fen)));
            var ev = a.evidence || {};
            var sum = el('td', 'summary', ev.summary || '');
            sum.title = (ev.summary || '') + (ev.event_ids && ev.event_ids.length ?
                '\n事件 events: ' + ev.event_ids.join(', ') : '') + '\nalert ' + (a.alert_id || '');
            tr.appendChild(sum);
            body.appendChild(tr);
        });
        if (!alerts || !alerts.length) {
            var tr0 = el('tr', 'empty-row');
            var td = bilingual('td', 'empty', '暂无告警', 'no alerts yet');
            td.colSpan = 7;
            tr0.appendChild(td);
            body.appendChild(tr0);
        }
    }

    /* ---- institutions ------------------------------------------------------------------ */

    function renderInstitutions(list) {
        var body = $('institutions').tBodies[0];
        clear(body);
        (list || []).forEach(function (r, i) {
            var tr = el('tr');
            tr.setAttribute('data-institution-id', r.institution_id || '');
            tr.appendChild(el('td', 'rank', i + 1));
            var name = el('td', 'mono', r.institution_id || '—');
            name.title = '截至 as of ' + fmtTime(r.as_of, true);
            tr.appendChild(name);
            tr.appendChild(el('td', 'num', typeof r.score === 'number' ? r.score.toFixed(2) : '—'));
            var g = el('td');
            g.appendChild(gradeBadge(r.grade));
            tr.appendChild(g);
            tr.appendChild(el('td', 'num', fmtInt(r.alerts)));
            tr.appendChild(el('td', 'num money', fmtFen(r.amount_at_risk_fen)));
            var sv = el('td', 'sevs');
            var bs = r.by_severity || {};
            SEV_ORDER.forEach(function (k) {
                if (bs[k] > 0) {
                    var b = sevBadge(k);
                    b.textContent = SEV_ZH[k] + ' ' + bs[k];
                    sv.appendChild(b);
                }
            });
            tr.appendChild(sv);
            body.appendChild(tr);
        });
        if (!list || !list.length) {
            var tr0 = el('tr', 'empty-row');
            var td = bilingual('td', 'empty', '暂无机构风险记录', 'no institution scores yet');
            td.colSpan = 7;
            tr0.appendChild(td);
            body.appendChild(tr0);
        }
    }

    /* ---- polling ------------------------------------------------------------------------ */

    function render(s) {
        renderHeader(s);
        renderStreams(s.streams);
        renderRuleChart(s.alerts_last_hour_by_rule);
        renderAlerts(s.recent_alerts);
        renderInstitutions(s.institutions);
    }

    function setConnected(ok, why) {
        document.body.classList.remove('connecting');
        document.body.classList.toggle('disconnected', !ok);
        $('banner').hidden = ok;
        if (ok) {
            setPill($('conn'), 'pill-ok', fixture ? '样例数据' : '已连接', fixture ? 'fixture' : 'connected');
        } else {
            setPill($('conn'), 'pill-bad', '连接中断', 'disconnected');
            $('conn').title = why + (lastOk ? ' (last good poll ' + fmtTime(lastOk, true) + ')' : '');
        }
    }

    /* XMLHttpRequest rather than fetch: fetch refuses file:// outright, XHR can read the fixture there. */
    function poll() {
        var xhr = new XMLHttpRequest();
        var done = false;
        function finish(ok, why) {
            if (done) return;
            done = true;
            setConnected(ok, why);
            window.setTimeout(poll, POLL_MS);
        }
        try {
            xhr.open('GET', url, true);
            xhr.timeout = TIMEOUT_MS;
            xhr.onload = function () {
                /* file:// answers status 0 on success */
                if (xhr.status !== 200 && !(xhr.status === 0 && xhr.responseText)) {
                    finish(false, 'HTTP ' + xhr.status);
                    return;
                }
                try {
                    var s = JSON.parse(xhr.responseText);
                    render(s);
                    lastOk = Date.now();
                    finish(true, '');
                } catch (e) {
                    finish(false, 'bad response: ' + e.message);
                }
            };
            xhr.onerror = function () { finish(false, 'network error'); };
            xhr.ontimeout = function () { finish(false, 'timeout'); };
            xhr.send();
        } catch (e) {
            finish(false, String(e && e.message || e));
        }
    }

    poll();
})();
