"""The runbook's vocabulary in the languages tickets arrive in, and the stories the books confirm.

Data only, compiled by ``intent.py`` (after ``typos.fold``, so a pattern may be written with its
accents and kana as a customer types them: "pagamento recusado", "アカウントが停止"). Each row
is ``(target, pattern, weight, negatable)``: a claim name (``CLAIM_ROWS``) or an incident
(``INTENT_ROWS``). They are words of the runbook (balance, card declined, hard limit, free
credits, refund, suspended) in Spanish, French, German, Portuguese, Japanese and Chinese, and
the stories a ticket tells in words that the engine can only otherwise read from the books:

- ``reports_compromise``: a leaked or exposed key, unknown IPs or countries, usage the
  customer did not make (a security matter, whatever else the ticket asks);
- ``suspension_policy`` / ``suspension_fraud`` / ``suspension_unpaid``: a suspension the
  customer says an email gave a reason for (the reason decides who reviews it);
- ``invoice_unpaid``: an invoice not paid yet (in approval, a purchase order stuck, past due);
- ``says_context_bloat``, ``says_model_swap``, ``says_dev_key``, ``duplicate_charge``: a higher
  bill's cause told in words.

CJK patterns start with a group, never a letter: a word boundary never falls between two
ideographs, so ``intent._p`` must not put ``\\b`` in front of them.
"""

from __future__ import annotations

Row = tuple[str, str, float, bool]

# --- shared pieces -----------------------------------------------------------------------------
_SUSPENDED = (
    r"(?:\bsuspen\w*|\bdeactivat\w*|\bdisabled\b|\bbanned\b|\bterminated\b|\bgesperrt\b|\bdeaktiviert\b"
    r"|\b(?:account|org|organi[sz]ation|workspace) (?:\w+ ){0,3}(?:locked|restricted|closed|frozen|on hold)\b"
    r"|\bdesativad\w*|\bdesactiv\w*|\bbloquead\w*|\bbloque\w*|\bsperrung\b"
    r"|停止|凍結|無効化|停用|暂停|封禁|冻结|禁用|封号|封停)"
)
_POLICY = (
    r"(?:\busage polic\w*|\bacceptable use|\bterms of (?:service|use)|\bcontent polic\w*|\bpolic(?:y|ies) violation"
    r"|\bviolat\w* (?:of )?(?:our |the |your )?(?:usage |content )?(?:polic\w*|terms)|\bpoliticas? de uso"
    r"|\bpolitiques? d'utilisation|\bconditions d'utilisation|\bnutzungsrichtlinie\w*|\bnutzungsbedingungen"
    r"|\brichtlinie\w*|\btermos de uso|\bviolacao|\binfring\w*|\bverstoss\w*"
    r"|利用ポリシー|利用規約|規約違反|ポリシー違反|使用政策|使用条款|违规|违反)"
)
_FRAUD = (
    r"(?:\bfraud\w*|\bpayment review|\breview of (?:\w+ ){0,2}payment|\bsuspicious payment|\bbetrug\w*"
    r"|\bzahlungsprufung|\bfraude\w*|詐欺|不正な支払|不正決済|欺诈|可疑(?:付款|支付|交易)|支付审核|付款审核)"
)
_UNPAID = (
    r"(?:\bunpaid\b|\boutstanding (?:balance|invoice|amount|payment)|\boverdue\b|\bpast due\b|\bimpaye\w*"
    r"|\bpendiente de pago|\bfactura pendiente|\bsin pagar\b|\bem aberto\b|\bnao pag\w*|\bunbezahlt\w*"
    r"|\boffene\w* rechnung|\bzahlungsruckstand|未払い|未払|滞納|未付|欠款|欠费|逾期)"
)
_SENTENCE = r"[^.?!。！？\n]"


def _near(a: str, b: str, gap: int = 80) -> str:
    """``a`` and ``b`` in either order within one sentence (CJK punctuation ends one too)."""
    return rf"(?:{a}){_SENTENCE}{{0,{gap}}}(?:{b})|(?:{b}){_SENTENCE}{{0,{gap}}}(?:{a})"


def _close(a: str, b: str, gap: int = 160) -> str:
    """``a`` and ``b`` in either order within ``gap`` characters, across a sentence break: "Our
    account was suspended. The email says it was for unpaid invoices."
    """
    return rf"(?:{a})(?s:.){{0,{gap}}}?(?:{b})|(?:{b})(?s:.){{0,{gap}}}?(?:{a})"


# --- claims ------------------------------------------------------------------------------------
CLAIM_ROWS: tuple[Row, ...] = (
    (
        "reports_compromise",
        r"\bcompromis\w*|\bhack(?:ed|er|ers)\b|\bkompromittiert\w*|\bgehackt\b|\bgeleakt\b|\bgestohlen\w*"
        r"|\bstolen\b|\bstole\b|\bpirat\w*|\bhackead\w*|\bcomprometid\w*"
        r"|\b(?:api )?keys? (?:\w+ ){0,3}(?:leak(?:ed)?|exposed|scraped|published|committed|pushed|posted)\b"
        r"|\bleak(?:ed)? (?:\w+ ){0,2}(?:api )?keys?\b|\bkey leak"
        r"|\b(?:pushed|committed|published|posted|shipped|exposed|uploaded) (?:\w+ ){0,4}(?:api )?keys? "
        r"(?:\w+ ){0,4}(?:to|on|in|into) (?:a |the |our )?(?:public|github|gitlab|frontend|client|browser|javascript)"
        r"|\bexposed (?:on|in) (?:github|public)"
        r"|\b(?:pushed|committed|published|posted|shipped|exposed|uploaded|leaked)\b[^.?!\n]{0,60}"
        r"(?:\b(?:keys?|secrets?|credentials|tokens?)\b|\.env\b)[^.?!\n]{0,40}\b(?:public|github|gitlab|frontend|client|browser)"
        r"|\bunauthori[sz]ed (?:\w+ )?(?:usage|use|access|charges?|calls?|requests?|activity|transactions?|spend\w*)"
        r"|\b(?:this|that|it) (?:is|was) not (?:me|us)\b|\bnot (?:from )?(?:me|us|ours|mine)\b[.!,]|\bwas not (?:me|us)\b"
        r"|\bsome(?:one|body) (?:else )?(?:used|is using|has been using|got|accessed|stole|ran up|is running)"
        r"|\bfraudulent (?:usage|use|charges?|calls?|requests?|api calls?)"
        r"|\b(?:i|we) did not make\b|\b(?:i|we) do not recogni[sz]e\b|\bwe never (?:made|sent|used)\b"
        r"|\b(?:usage|calls|requests|charges|activity|traffic) (?:\w+ ){0,2}(?:i|we) (?:did not|never) "
        r"(?:make|made|recogni[sz]e|authori[sz]e|send|sent)"
        r"|\bsuspicious (?:usage|activity|calls|requests|traffic)"
        r"|\b(?:ip(?: address)?e?s?|countries|locations|regions) (?:\w+ ){0,3}(?:we|i) (?:do not|never|have never) "
        r"(?:recogni[sz]e|know|use|operate|work)"
        r"|\bunknown (?:ip|ips|ip addresses|countries|locations)\b|\b(?:we|i) only operate in\b"
        # es / pt / fr / de
        r"|\bsin autorizacion|\bsem autorizacao|\bsans autorisation|\bohne (?:unsere |meine )?(?:erlaubnis|genehmigung)"
        r"|\bunbefugt\w*|\bnicht von (?:uns|mir)\b|\bque no (?:hicimos|reconocemos|realizamos)|\bno fuimos nosotros"
        r"|\bnao fomos nos|\bque (?:nunca usamos|nao (?:fizemos|reconhecemos))|\bne (?:viennent|vient) pas de nous"
        r"|\balguien (?:uso|usa|esta usando|ha usado|ha estado usando)\b|\balguem (?:usou|usa|esta usando|tem usado)\b"
        r"|\bquelqu'un (?:a utilise|utilise)\b|\bjemand (?:hat|nutzt|benutzt|verwendet)\b"
        r"|\b(?:clave|chave|cle|schlussel)\w* (?:\w+ ){0,3}(?:filtrad\w*|expuest\w*|robad\w*|vazad\w*|vazou|expost\w*"
        r"|a fuite|ont fuite|fuite)|\bse filtro\b|\bvazamento\b|\bvazou\b|\bfuite\b"
        r"|\b(?:direcciones ip|ips?|enderecos ip|adresses ip|ip-adressen) (?:\w+ ){0,2}(?:desconocid\w*|desconhecid\w*"
        r"|inconnue?s?|unbekannt\w*|que no conocemos|que nao conhecemos)|\bunbekannte\w* ip"
        r"|\bpays (?:ou|dans lesquels) nous ne sommes pas"
        # ja / zh
        r"|(?:漏洩|流出|身に覚えのない|不正利用|不正アクセス|乗っ取|知らない\s?ip|見覚えのない)"
        r"|(?:泄露|泄漏|被盗|盗用|盗刷|陌生\s?ip|不明\s?ip|未知\s?ip|不是我们|不是我|未经授权|被黑)",
        1.0,
        False,
    ),
    ("suspension_policy", _close(_SUSPENDED, _POLICY), 1.0, False),
    ("suspension_fraud", _close(_SUSPENDED, _FRAUD), 1.0, False),
    ("suspension_unpaid", _close(_SUSPENDED, _UNPAID), 1.0, False),
    (
        "invoice_unpaid",
        r"\binvoices?\b(?:[^.?!\n]{0,60})\b(?:approv\w*|sign-?off|procurement|accounts payable|ap (?:process|team|run)"
        r"|not (?:yet )?(?:been )?paid|unpaid|overdue|past due|pending|awaiting|waiting|stuck|in review|was due)"
        r"|\b(?:unpaid|overdue|outstanding|open) invoices?\b"
        r"|\b(?:accounts payable|ap team|procurement|approval|sign-?off)\b[^.?!\n]{0,60}\b(?:processing|approv\w*|review\w*"
        r"|still|not yet|pending|waiting)\b[^.?!\n]{0,40}\binvoices?\b"
        r"|\b(?:po|purchase order)s?\b(?:[^.?!\n]{0,40})\b(?:renewal|stuck|pending|expired|approv\w*)"
        r"|\brechnung\w*\b(?:[^.?!\n]{0,60})\b(?:freigabe|genehmigung|offen|unbezahlt|uberfallig|prufung)"
        r"|\bfactura\w*\b(?:[^.?!\n]{0,60})\b(?:aprobacion|pendiente|sin pagar|vencida)"
        r"|\bfatura\w*\b(?:[^.?!\n]{0,60})\b(?:aprovacao|pendente|em aberto|vencida|nao paga)"
        r"|\bfacture\w*\b(?:[^.?!\n]{0,60})\b(?:validation|approbation|impayee|en attente|en retard)"
        r"|(?:請求書.{0,20}(?:未払|承認|支払いが遅れ|処理中))|(?:发票.{0,20}(?:未付|审批|未支付|逾期|走流程))",
        1.0,
        False,
    ),
    (
        "says_context_bloat",
        r"\b(?:whole|entire|full|complete) (?:\w+ ){0,3}(?:documents?|pdfs?|manuals?|files?|conversations?|histor(?:y|ies)"
        r"|context|codebase|repo\w*|transcripts?|books?|knowledge base)\b[^.?!\n]{0,60}\b(?:every|each|all) (?:\w+ )?"
        r"(?:prompts?|requests?|messages?|calls?|turns?|quer(?:y|ies))"
        r"|\b(?:every|each) (?:\w+ )?(?:prompts?|requests?|messages?|calls?)\b[^.?!\n]{0,40}\b(?:whole|entire|full|complete)"
        r" (?:\w+ ){0,3}(?:documents?|pdfs?|manuals?|files?|conversations?|history|context)"
        r"|\btokens? per (?:request|call|prompt|message) (?:\w+ ){0,3}(?:rose|increased|went up|grew|doubled|tripled"
        r"|jumped|exploded)|\battach\w* (?:\w+ ){0,5}to (?:every|each) (?:prompt|request|message|call)"
        r"|\b(?:prompts?|requests?|context) (?:are|is|got|became|have become) (?:much |way |a lot )?(?:longer|bigger|larger)"
        r"|\b(?:documento|archivo|pdf|historial|contexto) (?:\w+ ){0,2}(?:completo|entero)\b[^.?!\n]{0,40}\b(?:cada|todas)"
        r"|\b(?:document|fichier|pdf|historique|contexte) (?:\w+ ){0,2}(?:complet|entier)\b[^.?!\n]{0,40}\b(?:chaque|toutes)"
        r"|\b(?:ganze\w*|gesamte\w*|komplette\w*|vollstandige\w*) (?:\w+ ){0,2}(?:dokument\w*|datei\w*|verlauf|kontext|pdf)"
        r"\b[^.?!\n]{0,50}\bjede\w*"
        r"|\b(?:documento|arquivo|pdf|historico|contexto) (?:\w+ ){0,2}(?:inteiro|completo)\b[^.?!\n]{0,40}\b(?:cada|todas)"
        r"|(?:(?:全文|文書全体|ドキュメント全体|ファイル全体|会話履歴全体|履歴全体|全履歴|マニュアル全体).{0,30}(?:毎回|すべての|全ての))"
        r"|(?:(?:整个|完整的?|全部)(?:文档|文件|对话历史|历史记录|上下文|手册).{0,30}(?:每次|每个|每条|所有))"
        r"|(?:(?:每次|每个请求|每条消息).{0,30}(?:整个|完整的?|全部)(?:文档|文件|对话历史|历史记录|上下文))",
        1.0,
        False,
    ),
    (
        "says_model_swap",
        r"\b(?:switched|changed|moved|swapped|upgraded|migrated) (?:\w+ ){0,4}models?\b[^.?!\n]{0,60}\b(?:from|to)\b"
        r"|\bmodels? (?:was |were |got |has been |had been )?(?:switched|changed|swapped|set) (?:\w+ ){0,2}(?:from|to)\b"
        r"|\bfrom (?:gpt|claude|gemini|o\d|opus|sonnet|haiku|mistral|llama|deepseek)[\w.-]*(?: [\w.-]+)? to "
        r"(?:gpt|claude|gemini|o\d|opus|sonnet|haiku|mistral|llama|deepseek)"
        r"|\bcambi\w* (?:\w+ ){0,3}modelo|\bcambio de modelo|\bchang\w* (?:\w+ ){0,3}modele|\bchangement de modele"
        r"|\bmodell\b[^.?!\n]{0,80}\b(?:gewechselt|umgestellt|geandert|getauscht)|\bmodellwechsel"
        r"|\b(?:troc|mud|alter)\w* (?:\w+ ){0,3}modelo|\btroca de modelo"
        r"|(?:モデル.{0,30}(?:変更|切り替え|変わ|入れ替え))|(?:模型.{0,30}(?:换成|改成|切换|换了|更换|改为))",
        1.0,
        False,
    ),
    (
        "says_dev_key",
        r"\b(?:dev|development|staging|test|testing|ci|sandbox|qa)\b (?:\w+ ){0,2}(?:api )?keys?\b[^.?!\n]{0,80}"
        r"\b(?:production|prod|live)\b"
        r"|\b(?:production|prod|live)\b[^.?!\n]{0,60}\b(?:using|uses|used|runs on|with)\b (?:\w+ ){0,3}"
        r"(?:dev|development|staging|test|ci|sandbox)\b (?:\w+ )?keys?\b"
        r"|\bkey (?:we|i) (?:made|created) for (?:ci|dev|development|testing|staging)"
        r"|\b(?:clave|chave|cle) de (?:desarrollo|pruebas|test|teste|desenvolvimento|homologacao|developpement|dev)"
        r"\b[^.?!\n]{0,60}\b(?:produccion|producao|production)"
        r"|\b(?:entwicklungs|test|staging|dev)-?(?:api-)?schlussel\w*\b[^.?!\n]{0,60}\bproduktion"
        r"|(?:(?:開発|テスト|ステージング)用?の?(?:api)?キー.{0,40}本番)|(?:(?:开发|测试)(?:环境|用)?的?(?:api)?(?:密钥|key).{0,40}(?:生产|线上))",
        1.0,
        False,
    ),
    (
        "duplicate_charge",
        r"\b(?:charged|billed|debited) (?:\w+ ){0,3}(?:two|2) times|\btwo charges for (?:one|the same)"
        r"|\bcharged (?:\w+ ){0,3}twice|\bdouble[- ]?(?:charged|billed|charge)|\bduplicate (?:charges?|payments?"
        r"|transactions?|lines?|entr\w*)|\b(?:billed|invoiced|debited) (?:\w+ ){0,3}twice|\btwo identical "
        r"(?:charges|payments|transactions)|\bsame\b[^.?!\n]{0,40}\btwice\b|\blists?\b[^.?!\n]{0,60}\btwice\b"
        r"|\bcobrad[oa]s? (?:dos veces|duas vezes|em dobro)|\bcargos? duplicados?|\bcobros? (?:doble|duplicado)"
        r"|\bcobraron dos veces|\b(?:facture|debite|preleve|paye)e?s? deux fois|\bdouble (?:prelevement|facturation"
        r"|paiement)|\bpaiement en double|\bdoppelt (?:belastet|abgebucht|berechnet)|\bzweimal (?:abgebucht|belastet"
        r"|berechnet)|\bdoppelte abbuchung|\bcobrancas? (?:duplicadas?|em dobro)"
        r"|(?:二重(?:請求|課金|引き落とし|決済))|(?:(?:2|二)回(?:請求|課金|引き落と))"
        r"|(?:重复(?:扣款|扣费|收费|计费|扣))|(?:扣了两次|(?:扣款|扣费)两次|被扣两次)",
        1.0,
        False,
    ),
    (
        "mentions_trial",
        r"(?:無料トライアル|トライアル|試用|试用|免费试用)",
        1.0,
        True,
    ),
    (
        "mentions_free_credits",
        r"(?:無料(?:枠|クレジット|プラン|ティア)|免费(?:额度|套餐|层级|版|赠送|的额度)|赠送的?(?:额度|余额|积分))",
        1.0,
        True,
    ),
    (
        "wants_refund",
        r"(?:返金|払い戻し|返還|退款|退还|退钱|返还)",
        1.0,
        True,
    ),
    (
        "says_suspended",
        r"(?:アカウント.{0,10}(?:停止|凍結|無効|ban)|(?:停止|凍結)(?:され|した|になり))"
        r"|(?:(?:账户|账号|帐户|帐号|组织).{0,10}(?:停用|暂停|封禁|冻结|禁用|封号|封停))",
        1.0,
        True,
    ),
    ("has_money", r"(?:残高はまだ|まだ残高|クレジットは(?:まだ)?残|还有余额|余额(?:还有|充足))", 1.0, True),
    ("mentions_limit", r"\bplafond\w*|\btope\b|\bobergrenze|(?:上限|限额|限度|リミット)", 1.0, True),
    (
        "card_problem",
        r"\b(?:paiement|carte)\b[^.?!\n]{0,30}\brefuse\w*|\bcartao\b[^.?!\n]{0,30}\brecusad\w*"
        r"|\btarjeta\b[^.?!\n]{0,30}\brechaz\w*|\bkarte\b[^.?!\n]{0,30}\babgelehnt"
        r"|(?:カード.{0,10}(?:拒否|決済失敗|使えな|通らな|通らず)|決済.{0,4}(?:通らな|通らず|できな|失敗|エラー))"
        r"|(?:信用卡.{0,10}(?:被拒|拒绝|扣款失败|支付失败))",
        1.0,
        True,
    ),
    (
        "key_problem",
        r"\bkeys? (?:\w+ ){0,6}(?:disabled|deactivated|blocked|revoked)\b|\b(?:disabled|revoked|deactivated) "
        r"(?:the |my |our )?(?:api )?keys?\b",
        1.0,
        False,
    ),
    (
        "says_no_balance",
        r"\bout of (?:credits?|balance|funds)\b|\bran out of (?:credits?|balance|funds)\b"
        r"|\b(?:balance|credits?) (?:\w+ ){0,2}(?:zero|\$?0(?:\.00)?|empty|exhausted|used up|depleted|ran out|run out)\b"
        r"|\bno (?:credits?|balance) (?:left|remaining)\b"
        r"|\bsaldo (?:de credit\w* )?(?:\w+ ){0,2}(?:en cero|agotado|cero|zerado|zerou|zero|esgotado|em zero)\b"
        r"|\bsin credit\w*|\bsem credit\w*|\bcredit\w* (?:\w+ ){0,2}(?:agotados|acabaron|esgotados|acabaram|epuises?)\b"
        r"|\bsolde (?:\w+ ){0,2}(?:a zero|epuise|nul)\b|\bplus de credits?\b"
        r"|\bguthaben (?:\w+ ){0,3}(?:aufgebraucht|leer|null|erschopft)\b|\bkein guthaben"
        r"|(?:残高.{0,6}(?:ゼロ|0|なくな|尽き)|クレジット.{0,6}(?:使い切|なくな|切れ))"
        r"|(?:余额.{0,4}(?:为0|为零|是0|用完|耗尽|没了))",
        1.0,
        True,
    ),
    (
        "says_auto_recharge_failed",
        _near(
            r"\bauto recharge|\bautomatic (?:recharge|top up|payment)|\brecarga automatica|\brechargement automatique"
            r"|\bautomatische aufladung|\bauto-?aufladung|自動チャージ|自动充值",
            r"\bfail\w*|\bdeclin\w*|\bdid not (?:work|go through|charge|fire|trigger)|\bnever (?:fired|charged|triggered)"
            r"|\brefus\w*|\bfalh\w*|\bfallo\b|\bfallid\w*|\brechaz\w*|\brecusad\w*|\bechoue\w*|\bfehlgeschlagen"
            r"|\babgelehnt|失敗|失败",
            60,
        ),
        1.0,
        False,
    ),
    (
        "says_credits_expired",
        _near(
            r"\bcredits?\b|\bgrant\b|\bguthaben\w*|\btestguthaben|\bcreditos?\b|\bsaldo\b|クレジット|额度|赠金|余额",
            r"\bexpired\b|\bexpir\w*|\babgelaufen|\bverfallen|\bvencid\w*|\bcaducad\w*|\bexpirad\w*"
            r"|期限切れ|失効|过期|到期",
            60,
        ),
        1.0,
        False,
    ),
    (
        "mentions_trial",
        r"\bde prueba\b|\bprueba gratuita|\bperiodo de prueba|\bperiodo de teste|\bessai\b|\bprobezeit|\bprobeabo",
        1.0,
        True,
    ),
)

# --- incidents ---------------------------------------------------------------------------------
INTENT_ROWS: tuple[Row, ...] = (
    # 1. payment failure: the balance is empty, a card or a payment failed
    (
        "payment_failure",
        r"\bsaldo (?:de credit\w* )?(?:\w+ ){0,2}(?:en cero|agotado|insuficiente|cero|zerado|zerou|zero|esgotado|em zero)"
        r"|\bsin credit\w*|\bsem credit\w*|\bcredit\w* (?:\w+ ){0,2}(?:agotados|acabaron|se acabaron|esgotados|acabaram)"
        r"|\btarjeta (?:\w+ ){0,2}rechazada|\bpago (?:\w+ ){0,2}(?:rechazado|fallido|fallo)"
        r"|\bsolde (?:\w+ ){0,2}(?:a zero|epuise|insuffisant|nul)|\bplus de credits?\b|\bcredits? epuises?"
        r"|\bcarte (?:\w+ ){0,3}refusee|\bpaiement (?:\w+ ){0,5}(?:refuse|echoue|rejete)|\brechargement (?:\w+ ){0,2}"
        r"(?:echoue|refuse)"
        r"|\bguthaben (?:\w+ ){0,3}(?:aufgebraucht|leer|null|erschopft)|\bkein guthaben|\bkarte (?:\w+ ){0,3}abgelehnt"
        r"|\bzahlung (?:\w+ ){0,3}(?:fehlgeschlagen|abgelehnt)|\baufladung (?:\w+ ){0,2}fehlgeschlagen"
        r"|\bcartao (?:\w+ ){0,3}recusado|\bpagamento (?:\w+ ){0,3}(?:recusado|falhou)|\brecarga (?:\w+ ){0,2}(?:falhou|fallida)"
        r"|(?:残高.{0,6}(?:ゼロ|0|不足|なくな|尽き)|クレジット.{0,6}(?:使い切|なくな|切れ|不足)|支払い.{0,4}失敗"
        r"|自動チャージ.{0,4}失敗)"
        r"|(?:余额.{0,4}(?:不足|为0|为零|是0|用完|耗尽|没了)|欠费|充值失败|扣款失败|支付失败|自动充值.{0,4}失败)",
        3.0,
        True,
    ),
    # 2. unexpected high bill
    (
        "unexpected_high_bill",
        r"\bfactura (?:\w+ ){0,6}(?:mas alta|triplic\w*|duplic\w*|aument\w*|tres veces|el doble)"
        r"|\bcargos inesperados|\bcobro excesivo"
        r"|\bfacture (?:\w+ ){0,4}(?:triple|double|plus elevee|explose|augmente)|\bfrais inattendus"
        r"|\bcouts? (?:\w+ ){0,3}(?:explose|augmente)"
        r"|\bkosten (?:\w+ ){0,4}(?:explodiert|gestiegen|verdoppelt)|\brechnung (?:\w+ ){0,4}(?:zu hoch|hoher|verdoppelt)"
        r"|\bunerwartete kosten"
        r"|\bfatura (?:\w+ ){0,4}(?:dobrou|triplicou|mais alta|aumentou)|\bcobrancas? inesperadas?"
        r"|\bcustos? (?:\w+ ){0,3}(?:dispar\w*|aument\w*)"
        r"|(?:請求.{0,8}(?:増え|高|倍|跳ね上が|急増)|料金.{0,4}(?:高|急増)|想定外の(?:請求|料金)|費用.{0,4}(?:急増|増え))"
        r"|(?:账单.{0,8}(?:暴涨|翻倍|太高|增加|飙升|异常|三倍|两倍)|费用.{0,4}(?:暴涨|激增|异常|太高)|扣费异常"
        r"|消费.{0,4}(?:暴增|激增))",
        3.0,
        True,
    ),
    # 3. spending limit
    (
        "spending_limit",
        r"\bplafond (?:de )?(?:depenses?|mensuel)|\blimite (?:de )?(?:depenses?|gastos?) mensu\w*|\blimite mensal"
        r"|\bmonatliche\w* (?:ausgaben)?limit|\blimite de gasto"
        r"|(?:(?:月間|月額|毎月|利用|支出|使用).{0,6}(?:上限|限度|リミット)|ハードリミット|上限に達)"
        r"|(?:(?:每月|月度|每个月).{0,6}(?:消费|支出|花费|使用)?(?:上限|限额)|(?:消费|支出|花费)(?:上限|限额)"
        r"|达到.{0,6}(?:上限|限额)|硬限制)",
        3.0,
        True,
    ),
    # 4. free tier: the free credits or trial used up or expired, the free tier's limits
    (
        "free_tier",
        r"\bnivel gratuito|\bplan gratuito|\bniveau gratuit|\bforfait gratuit|\bcredits? gratuits?|\bplano gratuito"
        r"|\bcredit\w* gratuit\w*|\bkostenlose\w* (?:kontingent|stufe|guthaben)|\btestguthaben"
        r"|(?:無料(?:トライアル|枠|クレジット|プラン|ティア)|トライアル(?:の)?クレジット)"
        r"|(?:免费(?:额度|试用|套餐|层级|版|赠送)|试用(?:额度|期)|赠送的?(?:额度|余额))",
        3.0,
        True,
    ),
    # 5. refund
    ("refund_request", r"(?:返金|払い戻し|退款|退还|退钱)", 3.0, True),
    # 6. account suspension
    (
        "account_suspension",
        r"(?:アカウント.{0,10}(?:停止|凍結|無効|ban)|利用停止)"
        r"|(?:(?:账户|账号|帐户|帐号).{0,10}(?:停用|暂停|封禁|冻结|禁用|封号|封停))",
        3.0,
        True,
    ),
)

CLAIM_INTENT_WEIGHTS: dict[str, dict[str, float]] = {
    "suspension_policy": {"account_suspension": 5.0},
    "suspension_fraud": {"account_suspension": 5.0},
    "suspension_unpaid": {"account_suspension": 5.0},
    "invoice_unpaid": {"payment_failure": 4.0},
    "says_context_bloat": {"unexpected_high_bill": 3.0},
    "says_model_swap": {"unexpected_high_bill": 3.0},
    "says_dev_key": {"unexpected_high_bill": 3.0},
    "duplicate_charge": {"unexpected_high_bill": 3.5},
}
"""What the new claims say about the incident (``intent.CLAIM_WEIGHTS`` adds them)."""
