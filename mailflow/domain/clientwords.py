"""What mail clients write around quoted history, in the languages they ship.

The words only, as data: `mailflow.domain.quotes` builds its patterns from them. Each
list names the clients whose output it comes from; a phrase is matched case-insensitively
and with any white space between its words. Pure data.
"""

from __future__ import annotations

# The closer of an "On <date>, <name> wrote:" attribution (Gmail, Apple Mail, Thunderbird,
# Outlook mobile, K-9, Yahoo, in their translations).
WROTE_WORDS = (
    "wrote", "writes", "a écrit", "schrieb", "schreibt", "escribió", "escreveu", "geschreven",
    "schreef", "ha scritto", "skrev", "napisał(a)", "napisał", "napisała", "pisze",
    "написал(а)", "написал", "написала", "пишет", "пише", "написав",
    "写道", "寫道", "書きました:", "작성:", "쓴 글:", "kirjoitti", "napsal(a)", "napsal",
    "napísal(a)", "írta", "yazdı", "έγραψε",
)

# Separator lines above a quoted or forwarded message: Outlook's "-----Original
# Message-----", Gmail's "---------- Forwarded message ---------", Apple Mail's "Begin
# forwarded message:", QQ Mail's and Foxmail's "------------------ 原始邮件 ---...".
SEPARATORS = (
    # Outlook (desktop, web) "Original Message"
    "original message", "ursprüngliche nachricht", "mensaje original", "message d'origine",
    "messaggio originale", "oorspronkelijk bericht", "originalmeddelande",
    "ursprungligt meddelande", "oprindelig meddelelse", "opprinnelig melding",
    "alkuperäinen viesti", "wiadomość oryginalna", "oryginalna wiadomość", "původní zpráva",
    "pôvodná správa", "исходное сообщение", "оригинальное сообщение",
    "вихідне повідомлення", "оригінальне повідомлення", "özgün ileti", "orijinal mesaj",
    "özgün mesaj", "原始邮件", "邮件原件", "原始郵件", "郵件原件", "元のメッセージ",
    "원본 메시지", "mensagem original", "eredeti üzenet", "αρχικό μήνυμα",
    # Gmail "Forwarded message"
    "forwarded message", "weitergeleitete nachricht", "mensaje reenviado",
    "message transféré", "mensagem encaminhada", "messaggio inoltrato",
    "doorgestuurd bericht", "videresendt meddelelse", "videresendt besked",
    "vidarebefordrat meddelande", "videresendt melding", "välitetty viesti",
    "wiadomość przekazana dalej", "přeposlaná zpráva", "пересылаемое сообщение",
    "пересланное сообщение", "переслане повідомлення", "iletilen mesaj", "转发的邮件",
    "轉寄的郵件", "転送されたメッセージ", "전달된 메시지", "전달된 메일",
    # Apple Mail "Begin forwarded message:"
    "begin forwarded message", "anfang der weitergeleiteten nachricht",
    "début du message réexpédié", "inicio del mensaje reenviado", "start på videresendt besked",
    "start på videresendt melding", "vidarebefordrat mejl", "välitetty viesti alkaa",
    "początek przekazywanej wiadomości", "začátek přeposlané zprávy",
    "начало переадресованного сообщения", "початок пересланого повідомлення",
    "iletilen ileti başlangıcı", "begin doorgestuurd bericht", "inizio messaggio inoltrato",
)

# Field names of the header block above a quoted message (Outlook desktop and web, Gmail's
# forward, Apple Mail's forward), each language's From, Sent/Date, To, Cc and Subject.
HEADER_NAMES = (
    # English
    "from", "sent", "to", "cc", "bcc", "subject", "date", "reply-to",
    # German, Dutch
    "von", "gesendet", "an", "betreff", "datum", "kopie", "van", "verzonden", "aan",
    "onderwerp",
    # Italian, Spanish, Portuguese, French
    "da", "risposta", "data", "a", "oggetto", "inviato", "de", "enviado", "para", "asunto",
    "fecha", "envoyé", "à", "objet",
    # Danish, Norwegian, Swedish
    "fra", "sendt", "til", "emne", "kopi", "från", "skickat", "till", "ämne", "kopia",
    # Finnish
    "lähettäjä", "lähetetty", "vastaanottaja", "aihe", "kopio", "päivämäärä",
    # Polish, Czech
    "od", "wysłano", "wysłane", "do", "temat", "dw", "odesláno", "komu", "předmět",
    # Russian, Ukrainian
    "от", "отправлено", "кому", "тема", "дата", "копия", "від", "надіслано", "копія",
    # Turkish
    "kimden", "gönderildi", "kime", "konu", "bilgi", "tarih",
    # Chinese (simplified, traditional), Japanese, Korean
    "发件人", "发送时间", "收件人", "抄送", "主题", "日期", "寄件者", "寄件日期", "收件者",
    "副本", "主旨", "差出人", "送信日時", "宛先", "件名", "日付", "보낸 사람", "보낸 날짜",
    "받는 사람", "참조", "제목", "날짜",
)
