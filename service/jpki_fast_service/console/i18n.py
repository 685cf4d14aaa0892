"""Japanese and English: the console's words, and how numbers, times and durations read.

Templates write English (``{{ _("Partitions") }}``) and :data:`JA` gives each text in Japanese;
a test checks that every text a template uses has its translation. The language is chosen by
the switch in the header (``?lang=ja``, remembered in a cookie), else by the browser's
``Accept-Language``, else English.

Times are shown in Japan time (JST), where J-LIS publishes and operators work, each with the
UTC instant in its ``<time datetime>``.

>>> Translator("ja").gettext("Partitions"), Translator("ja").ago(3 * 3600 + 120)
('パーティション', '3時間2分前')
>>> Translator("en").when(1764633600)
'2025-12-02 09:00 JST'
"""

from __future__ import annotations

import datetime as dt

from fastapi import Request

from jpki_fast.places import prefecture_ja

LANGS = ("en", "ja")
COOKIE = "jpkf_lang"
JST = dt.timezone(dt.timedelta(hours=9), "JST")


def choose(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    kept = request.cookies.get(COOKIE)
    if kept in LANGS:
        return kept
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("ja"):
            return "ja"
        if tag.startswith("en"):
            return "en"
    return "en"


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else "en"
        self._catalog = JA if self.lang == "ja" else {}

    def gettext(self, text: str, **values) -> str:
        out = self._catalog.get(text, text)
        return out.format(**values) if values else out

    def ngettext(self, singular: str, plural: str, n: int, **values) -> str:
        """The singular or plural text for ``n`` (Japanese has one form: the plural's)."""
        text = singular if n == 1 and self.lang == "en" else plural
        return self.gettext(text, n=self.num(n), **values)

    # ---- numbers, times ----

    def num(self, n: int | float | None) -> str:
        if n is None:
            return "–"
        return f"{n:,}"

    def when(self, epoch_s: int | float | None, seconds: bool = False) -> str:
        if epoch_s is None:
            return "–"
        t = dt.datetime.fromtimestamp(epoch_s, JST)
        return t.strftime("%Y-%m-%d %H:%M:%S JST" if seconds else "%Y-%m-%d %H:%M JST")

    def short(self, epoch_s: int | float | None) -> str:
        """A time in JST without the zone (table cells; the column header names it)."""
        if epoch_s is None:
            return "–"
        return dt.datetime.fromtimestamp(epoch_s, JST).strftime("%Y-%m-%d %H:%M")

    def utc(self, epoch_s: int | float | None) -> str:
        if epoch_s is None:
            return ""
        return dt.datetime.fromtimestamp(epoch_s, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def duration(self, seconds: float) -> str:
        s = int(abs(seconds))
        d, rest = divmod(s, 86400)
        h, rest = divmod(rest, 3600)
        m = rest // 60
        if self.lang == "ja":
            if d:
                return f"{d}日{h}時間"
            if h:
                return f"{h}時間{m}分"
            return f"{m}分" if m else f"{s}秒"
        if d:
            return f"{d} d {h} h"
        if h:
            return f"{h} h {m} min"
        return f"{m} min" if m else f"{s} s"

    def ago(self, seconds: float | None) -> str:
        if seconds is None:
            return "–"
        if -5 < seconds < 5:
            return self.gettext("just now")
        if seconds < 0:
            return self.within(-seconds)
        return f"{self.duration(seconds)}前" if self.lang == "ja" else f"{self.duration(seconds)} ago"

    def within(self, seconds: float) -> str:
        return f"あと{self.duration(seconds)}" if self.lang == "ja" else f"in {self.duration(seconds)}"

    def relative(self, epoch_s: int | None, now_s: int) -> str:
        if epoch_s is None:
            return "–"
        return self.ago(now_s - epoch_s)

    def day(self, d: dt.date) -> str:
        if self.lang == "ja":
            return f"{d.month}月{d.day}日（{'月火水木金土日'[d.weekday()]}）"
        return d.strftime("%a %d %b")

    # ---- domain words ----

    def prefecture(self, name: str | None) -> str:
        if not name:
            return self.gettext("No prefecture")
        if self.lang == "ja":
            return prefecture_ja(name) or name
        return name

    def reason(self, name: str | None) -> str:
        if not name:
            return "–"
        label = REASON_JA.get(name) if self.lang == "ja" else REASON_EN.get(name)
        return f"{name} ({label})" if label and self.lang == "en" else (f"{name}（{label}）" if label else name)

    def reason_note(self, name: str) -> str | None:
        """What a reason tells, in a few English words (None where RFC 5280's name says it)."""
        return REASON_EN.get(name)

    def reason_short(self, name: str) -> str:
        if self.lang == "ja":
            return REASON_JA.get(name, name)
        return name

    def state(self, name: str) -> str:
        return self.gettext(STATE_LABELS.get(name, name))

    def status(self, name: str | None) -> str:
        if not name:
            return "–"
        return self.gettext(STATUS_LABELS.get(name, name))

    def kind(self, name: str | None) -> str:
        return self.gettext({"authentication": "authentication", "signing": "signing"}.get(name or "", "–"))


STATE_LABELS = {"fresh": "fresh", "carried": "kept", "stale": "stale"}
STATUS_LABELS = {
    "good": "good", "revoked": "revoked", "stale": "stale", "unknown": "unknown issuer", "malformed": "malformed",
    "expired": "expired", "not_yet_valid": "not yet valid", "untrusted": "untrusted", "bad_signature": "bad signature",
    "wrong_usage": "wrong usage", "allow": "allow", "deny": "deny",
}

#: What a reason tells a verifier in JPKI (docs/DESIGN.md §2.4), in a few words.
REASON_EN = {
    "affiliationChanged": "death, emigration, change of facts",
    "cessationOfOperation": "card lost or emigration",
    "superseded": "renewed",
    "certificateHold": "card lost",
    "keyCompromise": "key compromised",
    "unspecified": "no reason given",
    "none": "no reason code",
}
REASON_JA = {
    "affiliationChanged": "死亡・海外転出・基本4情報の変更",
    "cessationOfOperation": "カード紛失・海外転出",
    "superseded": "更新",
    "certificateHold": "カード紛失（保留）",
    "keyCompromise": "秘密鍵の危殆化",
    "unspecified": "理由の指定なし",
    "privilegeWithdrawn": "利用資格の取消し",
    "cACompromise": "認証局の危殆化",
    "aACompromise": "属性認証局の危殆化",
    "removeFromCRL": "CRLからの削除",
    "none": "理由コードなし",
}

JA: dict[str, str] = {
    # frame
    "Skip to content": "本文へ移動",
    "Operator console": "運用コンソール",
    "Main": "メイン",
    "Language": "言語",
    "Sign out": "ログアウト",
    "Signed in as": "ログイン中",
    "tenant": "テナント",
    "roles": "ロール",
    "Overview": "概要",
    "Partitions": "パーティション",
    "Changes": "変更",
    "Check": "照会",
    "Audit": "監査",
    "Snapshot generation {generation}": "スナップショット世代 {generation}",
    "shown at {time}": "表示 {time}",
    # login
    "Sign in": "ログイン",
    "Sign in with an API key of this service. The key is kept in an encrypted session cookie for {hours} hours at most, "
    "never in an address.":
        "このサービスのAPIキーでログインしてください。キーは暗号化したセッションCookieに最長{hours}時間だけ保持され、URLには入りません。",
    "API key": "APIキー",
    "Keys are created with": "キーの作成：",
    "That key is not known to this service.": "このサービスに登録されていないキーです。",
    "The sign-in form expired. Please try again.": "ログインフォームの有効期限が切れました。もう一度お試しください。",
    # denied
    "Not allowed": "権限がありません",
    "This page needs an API key with the role {roles}. Your key has: {mine}.":
        "このページには次のロールを持つAPIキーが必要です：{roles}。あなたのキーのロール：{mine}。",
    "or": "または",
    # overview
    "Generation": "世代",
    "published {ago}": "公開：{ago}",
    "Next update due by": "次回更新期限",
    "earliest nextUpdate": "最も早いnextUpdate",
    "Readiness": "稼働準備",
    "ready": "準備完了",
    "not ready": "準備未完了",
    "Revoked entries": "失効エントリ",
    "Revoked entries by reason": "失効理由別のエントリ数",
    "just now": "たった今",
    "(no key)": "（キーなし）",
    "none": "なし",
    "in {n} partitions": "{n}パーティション",
    "Partition states": "パーティションの状態",
    "Alerts": "アラート",
    "No alerts: every partition is fresh and the last run refused nothing.":
        "アラートはありません。すべてのパーティションが有効期間内で、前回の取込みで拒否されたCRLもありません。",
    "{n} partitions are stale (past their nextUpdate): checks on them answer “stale”.":
        "{n}件のパーティションが失効情報の有効期限（nextUpdate）を過ぎています。これらへの照会は「stale」と回答されます。",
    "Show stale partitions": "期限切れのパーティションを表示",
    "{n} CRL files were refused by the last run:": "前回の取込みで{n}件のCRLファイルが拒否されました：",
    "{n} partitions were missing from the last run; they keep their CRL until its nextUpdate.":
        "{n}件のパーティションが前回の取込みにありませんでした。nextUpdateまでは保持中のCRLを使います。",
    "Show kept partitions": "保持中のパーティションを表示",
    "The CA key {issuer} is revoked ({reason}, {date}).": "認証局の鍵 {issuer} は失効しています（{reason}、{date}）。",
    "The last reload failed; still serving this generation: {message}":
        "直近の再読込みに失敗しました。この世代で応答を続けています：{message}",
    "Not ready: {n} partitions are past their nextUpdate by more than {grace} (the readiness probe answers 503).":
        "準備未完了：{n}件のパーティションがnextUpdateを{grace}以上過ぎています（/readyz は503を返します）。",
    "The snapshot holds no CRL.": "スナップショットにCRLがありません。",
    "until {time}": "{time}まで",
    "Counts by issuer": "発行者別の件数",
    "Issuer": "発行者",
    "Kind": "種別",
    "Entries": "エントリ数",
    "Partitions by state": "状態別パーティション",
    "key revoked": "鍵失効",
    "Total": "合計",
    "Last run": "前回の取込み",
    "ran at": "実行時刻",
    "accepted": "受理",
    "unchanged": "変更なし",
    "refused": "拒否",
    "missing": "欠落",
    "Snapshot loaded": "スナップショット読込み",
    "This service": "このサービス",
    "Generation served": "応答中の世代",
    "Readiness grace": "稼働準備の猶予",
    "Auto-refresh": "自動更新",
    "Updated {time}": "{time}に更新",
    "authentication": "利用者証明用",
    "signing": "署名用",
    "fresh": "有効",
    "kept": "保持中",
    "stale": "期限切れ",
    "key id": "鍵識別子",
    # partitions
    "Filter": "絞り込み",
    "Search": "検索",
    "municipality, prefecture, CRL number…": "市区町村、都道府県、CRL番号…",
    "Prefecture": "都道府県",
    "all": "すべて",
    "State": "状態",
    "Group by prefecture": "都道府県ごとに表示",
    "Apply": "適用",
    "Reset": "リセット",
    "Showing {shown} of {total} partitions.": "{total}件中{shown}件のパーティションを表示しています。",
    "Municipality": "市区町村",
    "CRL number": "CRL番号",
    "No prefecture": "都道府県なし",
    "{n} partitions": "{n}件",
    "{n} stale": "期限切れ{n}件",
    "No partition matches this filter.": "条件に一致するパーティションはありません。",
    "full CRL": "完全CRL",
    "authority revocation list": "認証局失効リスト（ARL）",
    "Fresh: renewed by the last run. Kept: still valid, but kept from an earlier run (missing from the last one, or sent "
    "unchanged). Stale: past its nextUpdate; checks answer “stale”.":
        "有効：前回の取込みで更新。保持中：有効期間内だが以前の取込みのCRLを保持（前回に欠落、または同一内容）。期限切れ：nextUpdateを過ぎ、照会は「stale」と回答。",
    "sorted ascending": "昇順",
    "sorted descending": "降順",
    "Sort by {column}": "{column}で並べ替え",
    # changes
    "Newly revoked per day": "日別の新規失効",
    "Entries added to the CRLs each day (JST), by reason, over the {n} generations the store keeps.":
        "ストアが保持する{n}世代について、日ごと（日本時間）にCRLへ追加されたエントリを失効理由別に示します。",
    "Day": "日付",
    "No publication": "公開なし",
    "generation": "世代",
    "The store keeps a single generation: there is no history to compare yet.":
        "ストアには1世代しかないため、比較できる履歴はまだありません。",
    "Last diff": "直近の差分",
    "generation {frm} → {to}": "世代 {frm} → {to}",
    "added": "追加",
    "removed": "削除",
    "changed": "変更",
    "Newly revoked by reason": "失効理由別の新規失効",
    "Download the diff": "差分をダウンロード",
    "CSV": "CSV",
    "Parquet": "Parquet",
    "The list of changed serials is for admin keys only: a tenant gets answers, never lists.":
        "変更されたシリアル番号の一覧は管理者キーのみ取得できます（テナントには回答のみを提供し、一覧は提供しません）。",
    "Newly revoked entries per day by reason": "日別・失効理由別の新規失効エントリ",
    "Numbers of the chart": "グラフの数値",
    "Reason": "失効理由",
    # check
    "Check serials": "シリアル番号の照会",
    "Serials": "シリアル番号",
    "Hex serials, one per line (or separated by spaces or commas), up to {n}.":
        "16進のシリアル番号を1行に1つ（または空白・カンマ区切り）、最大{n}件。",
    "Add provenance (partition, CRL number, thisUpdate, nextUpdate)": "根拠情報を付ける（パーティション、CRL番号、thisUpdate、nextUpdate）",
    "Check a certificate": "証明書の照会",
    "Certificate file (DER or PEM)": "証明書ファイル（DERまたはPEM）",
    "or paste it (PEM or base64)": "または貼り付け（PEMまたはbase64）",
    "Purpose": "用途",
    "by its CA's kind": "認証局の種別による",
    "login": "ログイン",
    "signature": "署名",
    "Results": "結果",
    "The same answer as the API gives ({endpoint}), with this key.": "このキーでAPI（{endpoint}）が返すものと同じ回答です。",
    "Serial": "シリアル番号",
    "Status": "状態",
    "Revocation date": "失効日時",
    "Meaning": "意味",
    "Detail": "詳細",
    "Show the answer as JSON": "回答をJSONで表示",
    "{n} more results are not shown (the counts above include them).": "ほかに{n}件の結果があります（上の件数には含まれます）。",
    "Give at least one serial.": "シリアル番号を1つ以上入力してください。",
    "{count} serials: at most {n} per check here (use POST /v1/status for batches).":
        "{count}件：ここでは1回{n}件までです（大量の照会は POST /v1/status をご利用ください）。",
    "Choose a certificate file or paste one.": "証明書ファイルを選ぶか、貼り付けてください。",
    "The certificate is larger than 1 MiB.": "証明書が1 MiBを超えています。",
    "The form expired. Please try again.": "フォームの有効期限が切れました。もう一度お試しください。",
    "The API answered {status}: {message}": "APIの回答 {status}：{message}",
    "Check these serials": "シリアル番号を照会",
    "Check the certificate": "証明書を照会",
    "good": "有効",
    "revoked": "失効",
    "unknown issuer": "発行者不明",
    "malformed": "形式不正",
    "expired": "有効期限切れ",
    "not yet valid": "有効期間前",
    "untrusted": "信頼できない",
    "bad signature": "署名不正",
    "wrong usage": "用途違い",
    "allow": "許可",
    "deny": "拒否",
    "Valid from": "有効期間開始",
    "Valid until": "有効期間終了",
    # audit
    "Audit chain": "監査ログのハッシュチェーン",
    "intact": "改ざんなし",
    "broken": "破損",
    "{n} lines, chain intact; last hash": "{n}行、チェーンは正常。最終ハッシュ",
    "The chain is broken: {problem}": "チェーンが壊れています：{problem}",
    "checked {ago}": "検証：{ago}",
    "Verify now": "今すぐ検証",
    "No audit log yet.": "監査ログはまだありません。",
    "Requests per day": "日別のリクエスト数",
    "Requests per key and endpoint": "キー・エンドポイント別のリクエスト数",
    "Only tenant {tenant} (this admin key is bound to it).": "テナント {tenant} のみ（この管理者キーはこのテナントに属します）。",
    "Last {n} days": "直近{n}日",
    "Key": "キー",
    "Tenant": "テナント",
    "Endpoint": "エンドポイント",
    "Requests": "リクエスト",
    "Items": "件数",
    "Errors": "エラー",
    "No request in this period.": "この期間のリクエストはありません。",
    "Every request is one line of the audit log ({path}); serials and certificates appear in it only as keyed HMACs.":
        "すべてのリクエストは監査ログ（{path}）に1行ずつ記録されます。シリアル番号と証明書は鍵付きHMACとしてのみ記録されます。",
    "Requests per day by key": "キー別・日別のリクエスト数",
    "Period": "期間",
    "Show": "表示",
}
