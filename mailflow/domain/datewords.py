"""Month and weekday names in the languages replies are read in (generated from
CLDR by babel 2.19.0: scripts/gen_datewords.py; do not edit).

Keys are lower case, without a trailing dot. Pure data.
"""

from __future__ import annotations

LOCALES = (
    'en', 'de', 'fr', 'es', 'it', 'pt', 'nl', 'da', 'sv', 'nb', 'fi', 'pl', 'cs', 'ru',
    'uk', 'tr', 'zh', 'ja', 'ko',
)

# month number (1-12) -> names, wide and abbreviated
_MONTHS_BY_NUMBER: dict[int, tuple[str, ...]] = {
    1: (
        'ene', 'enero', 'gen', 'gennaio', 'jan', 'janeiro', 'januar', 'januari',
        'january', 'janv', 'janvier', 'led', 'leden', 'ledna', 'oca', 'ocak', 'sty',
        'styczeń', 'stycznia', 'tammi', 'tammikuu', 'tammikuuta', 'січ', 'січень',
        'січня', 'янв', 'январь', 'января', '一月',
    ),
    2: (
        'feb', 'febbraio', 'febrero', 'februar', 'februari', 'february', 'fev',
        'fevereiro', 'févr', 'février', 'helmi', 'helmikuu', 'helmikuuta', 'lut',
        'lutego', 'luty', 'úno', 'únor', 'února', 'şub', 'şubat', 'лют', 'лютий',
        'лютого', 'февр', 'февраль', 'февраля', '二月',
    ),
    3: (
        'bře', 'březen', 'března', 'maalis', 'maaliskuu', 'maaliskuuta', 'maart', 'mar',
        'marca', 'march', 'mars', 'mart', 'marts', 'marzec', 'marzo', 'março', 'mrt',
        'mär', 'märz', 'бер', 'березень', 'березня', 'мар', 'март', 'марта', '三月',
    ),
    4: (
        'abr', 'abril', 'apr', 'april', 'aprile', 'avr', 'avril', 'dub', 'duben',
        'dubna', 'huhti', 'huhtikuu', 'huhtikuuta', 'kwi', 'kwiecień', 'kwietnia',
        'nis', 'nisan', 'апр', 'апрель', 'апреля', 'квіт', 'квітень', 'квітня', '四月',
    ),
    5: (
        'kvě', 'květen', 'května', 'mag', 'maggio', 'mai', 'maio', 'maj', 'maja', 'may',
        'mayo', 'mayıs', 'mei', 'touko', 'toukokuu', 'toukokuuta', 'май', 'мая', 'трав',
        'травень', 'травня', '五月',
    ),
    6: (
        'cze', 'czerwca', 'czerwiec', 'giu', 'giugno', 'haz', 'haziran', 'juin', 'jun',
        'june', 'junho', 'juni', 'junio', 'kesä', 'kesäkuu', 'kesäkuuta', 'červen',
        'června', 'čvn', 'июн', 'июнь', 'июня', 'черв', 'червень', 'червня', '六月',
    ),
    7: (
        'heinä', 'heinäkuu', 'heinäkuuta', 'juil', 'juillet', 'jul', 'julho', 'juli',
        'julio', 'july', 'lip', 'lipca', 'lipiec', 'lug', 'luglio', 'tem', 'temmuz',
        'července', 'červenec', 'čvc', 'июл', 'июль', 'июля', 'лип', 'липень', 'липня',
        '七月',
    ),
    8: (
        'ago', 'agosto', 'août', 'aug', 'august', 'augusti', 'augustus', 'ağu',
        'ağustos', 'elo', 'elokuu', 'elokuuta', 'sie', 'sierpień', 'sierpnia', 'srp',
        'srpen', 'srpna', 'авг', 'август', 'августа', 'серп', 'серпень', 'серпня', '八月',
    ),
    9: (
        'eyl', 'eylül', 'sep', 'sept', 'september', 'septembre', 'septiembre', 'set',
        'setembro', 'settembre', 'syys', 'syyskuu', 'syyskuuta', 'wrz', 'wrzesień',
        'września', 'zář', 'září', 'вер', 'вересень', 'вересня', 'сент', 'сентябрь',
        'сентября', '九月',
    ),
    10: (
        'eki', 'ekim', 'loka', 'lokakuu', 'lokakuuta', 'oct', 'october', 'octobre',
        'octubre', 'okt', 'oktober', 'ott', 'ottobre', 'out', 'outubro', 'paź',
        'październik', 'października', 'říj', 'říjen', 'října', 'жовт', 'жовтень',
        'жовтня', 'окт', 'октябрь', 'октября', '十月',
    ),
    11: (
        'kas', 'kasım', 'lis', 'listopad', 'listopada', 'listopadu', 'marras',
        'marraskuu', 'marraskuuta', 'nov', 'november', 'novembre', 'novembro',
        'noviembre', 'лист', 'листопад', 'листопада', 'нояб', 'ноябрь', 'ноября', '十一月',
    ),
    12: (
        'ara', 'aralık', 'dec', 'december', 'des', 'desember', 'dez', 'dezember',
        'dezembro', 'dic', 'dicembre', 'diciembre', 'déc', 'décembre', 'gru', 'grudnia',
        'grudzień', 'joulu', 'joulukuu', 'joulukuuta', 'pro', 'prosince', 'prosinec',
        'груд', 'грудень', 'грудня', 'дек', 'декабрь', 'декабря', '十二月',
    ),
}
MONTHS: dict[str, int] = {
    name: number for number, names in _MONTHS_BY_NUMBER.items() for name in names
}

# weekday (0 = Monday) -> names, wide names only
_WEEKDAYS_BY_NUMBER: dict[int, tuple[str, ...]] = {
    0: (
        'lundi', 'lunedì', 'lunes', 'maanantai', 'maanantaina', 'maandag', 'mandag',
        'monday', 'montag', 'måndag', 'pazartesi', 'pondělí', 'poniedziałek',
        'segunda-feira', 'понедельник', 'понеділок', '星期一', '月曜日', '월요일',
    ),
    1: (
        'dienstag', 'dinsdag', 'mardi', 'martedì', 'martes', 'salı', 'terça-feira',
        'tiistai', 'tiistaina', 'tirsdag', 'tisdag', 'tuesday', 'wtorek', 'úterý',
        'вторник', 'вівторок', '星期二', '火曜日', '화요일',
    ),
    2: (
        'keskiviikko', 'keskiviikkona', 'mercoledì', 'mercredi', 'mittwoch',
        'miércoles', 'onsdag', 'quarta-feira', 'středa', 'wednesday', 'woensdag',
        'çarşamba', 'środa', 'середа', 'среда', '星期三', '水曜日', '수요일',
    ),
    3: (
        'czwartek', 'donderdag', 'donnerstag', 'giovedì', 'jeudi', 'jueves', 'perşembe',
        'quinta-feira', 'thursday', 'torsdag', 'torstai', 'torstaina', 'čtvrtek',
        'четвер', 'четверг', '星期四', '木曜日', '목요일',
    ),
    4: (
        'cuma', 'fredag', 'freitag', 'friday', 'perjantai', 'perjantaina', 'piątek',
        'pátek', 'sexta-feira', 'vendredi', 'venerdì', 'viernes', 'vrijdag', 'пʼятниця',
        'пятница', '星期五', '金曜日', '금요일',
    ),
    5: (
        'cumartesi', 'lauantai', 'lauantaina', 'lördag', 'lørdag', 'sabato', 'samedi',
        'samstag', 'saturday', 'sobota', 'sábado', 'zaterdag', 'суббота', 'субота',
        '土曜日', '星期六', '토요일',
    ),
    6: (
        'dimanche', 'domenica', 'domingo', 'neděle', 'niedziela', 'pazar', 'sonntag',
        'sunday', 'sunnuntai', 'sunnuntaina', 'söndag', 'søndag', 'zondag',
        'воскресенье', 'неділя', '日曜日', '星期日', '일요일',
    ),
}
WEEKDAYS: dict[str, int] = {
    name: number for number, names in _WEEKDAYS_BY_NUMBER.items() for name in names
}
