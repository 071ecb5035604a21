"""Every user-facing text, in Russian, Kazakh and English; a test fails when a language lacks a key."""

from __future__ import annotations

from typing import Any

from bot.core.text import escape_html

LANGUAGES: tuple[str, ...] = ("ru", "kk", "en")
DEFAULT_LANGUAGE = "ru"

CATALOG: dict[str, dict[str, str]] = {
    "card.urgent": {"ru": "🔴 СРОЧНО", "kk": "🔴 ШҰҒЫЛ", "en": "🔴 URGENT"},
    "card.title": {"ru": "Обращение №{number}", "kk": "№{number} өтініш", "en": "Complaint #{number}"},
    "card.category": {"ru": "Категория", "kk": "Санат", "en": "Category"},
    "card.district": {"ru": "Район", "kk": "Аудан", "en": "District"},
    "card.district_unknown": {"ru": "не указан", "kk": "көрсетілмеген", "en": "not given"},
    "card.author": {"ru": "Автор", "kk": "Авторы", "en": "Author"},
    "card.phone": {"ru": "📞 {phone}", "kk": "📞 {phone}", "en": "📞 {phone}"},
    "card.source": {"ru": "Источник", "kk": "Дереккөз", "en": "Source"},
    "card.source_private": {
        "ru": "личное сообщение боту",
        "kk": "ботқа жеке хабарлама",
        "en": "private message to the bot",
    },
    "card.open_original": {"ru": "открыть сообщение", "kk": "хабарламаны ашу", "en": "open the message"},
    "card.officials": {"ru": "Адресат", "kk": "Кімге", "en": "Addressed to"},
    "card.triage": {
        "ru": "⚠️ Категория определена неуверенно — проверьте",
        "kk": "⚠️ Санат сенімсіз анықталды — тексеріңіз",
        "en": "⚠️ Category uncertain — please check",
    },
    "card.alternative": {
        "ru": "🤔 или: {category} ({share}%; основная — {main}%)",
        "kk": "🤔 немесе: {category} ({share}%; негізгісі — {main}%)",
        "en": "🤔 or: {category} ({share}%; main one {main}%)",
    },
    "card.photos": {"ru": "Фото: {count}", "kk": "Фото: {count}", "en": "Photos: {count}"},
    "card.location": {"ru": "Геолокация", "kk": "Геолокация", "en": "Location"},
    "card.status": {"ru": "Статус", "kk": "Мәртебесі", "en": "Status"},
    "card.edited": {"ru": "✏️ сообщение изменено", "kk": "✏️ хабарлама өзгертілді", "en": "✏️ message edited"},
    "card.reopened": {
        "ru": "↩️ открыто повторно: {count}",
        "kk": "↩️ қайта ашылды: {count}",
        "en": "↩️ reopened: {count}",
    },
    "card.duplicates": {
        "ru": "👥 +{count} жителей",
        "kk": "👥 +{count} тұрғын",
        "en": "👥 +{count} residents",
    },
    "button.take": {"ru": "✋ Взять", "kk": "✋ Алу", "en": "✋ Take"},
    "button.resolve": {"ru": "✅ Решено", "kk": "✅ Шешілді", "en": "✅ Resolved"},
    "button.reroute": {"ru": "↪️ Другому отделу", "kk": "↪️ Басқа бөлімге", "en": "↪️ Reroute"},
    "button.duplicate": {"ru": "🔁 Дубликат", "kk": "🔁 Қайталама", "en": "🔁 Duplicate"},
    "button.not_complaint": {"ru": "🚫 Не жалоба", "kk": "🚫 Шағым емес", "en": "🚫 Not a complaint"},
    "status.new": {"ru": "новое", "kk": "жаңа", "en": "new"},
    "status.queued": {"ru": "в очереди", "kk": "кезекте", "en": "queued"},
    "status.delivered": {"ru": "передано в отдел", "kk": "бөлімге жіберілді", "en": "delivered"},
    "status.in_progress": {"ru": "в работе", "kk": "жұмыста", "en": "in progress"},
    "status.resolved": {"ru": "решено", "kk": "шешілді", "en": "resolved"},
    "status.rejected": {"ru": "отклонено", "kk": "қабылданбады", "en": "rejected"},
    "status.duplicate": {"ru": "дубликат", "kk": "қайталама", "en": "duplicate"},
    "ack.forwarded": {
        "ru": "Передано в {department}, №{number}",
        "kk": "{department} жіберілді, №{number}",
        "en": "Forwarded to {department}, #{number}",
    },
    "head.urgent": {
        "ru": "🔴 Срочное обращение №{number} в вашем отделе",
        "kk": "🔴 Бөліміңізде №{number} шұғыл өтініш",
        "en": "🔴 Urgent complaint #{number} for your department",
    },
    "admin.chat_unreachable": {
        "ru": "⚠️ Бот не может писать в чат отдела «{department}» ({chat_id}): {reason}. "
        "Обращения ждут в очереди ({depth}). Добавьте бота в чат снова.",
        "kk": "⚠️ Бот «{department}» бөлімінің чатына ({chat_id}) жаза алмайды: {reason}. "
        "Өтініштер кезекте күтуде ({depth}). Ботты чатқа қайта қосыңыз.",
        "en": "⚠️ The bot cannot write to the {department} chat ({chat_id}): {reason}. "
        "Complaints wait on the queue ({depth}). Add the bot to the chat again.",
    },
    "start.greeting": {
        "ru": "Здравствуйте! Я Shagym — бот акимата для жалоб жителей. Опишите проблему и адрес, "
        "приложите фото или геолокацию — я передам в нужный отдел и сообщу, когда её решат.",
        "kk": "Сәлеметсіз бе! Мен Shagym — тұрғындар шағымына арналған әкімдік боты. Мәселе мен "
        "мекенжайды жазыңыз, фото не геолокация қосыңыз — тиісті бөлімге жіберіп, шешілгенін хабарлаймын.",
        "en": "Hello! I am Shagym, the city administration's bot for residents' complaints. Describe the "
        "problem and the address, add a photo or your location: I pass it to the right department and "
        "tell you when it is fixed.",
    },
    "start.pick_language": {
        "ru": "Выберите язык · Тілді таңдаңыз · Choose a language",
        "kk": "Выберите язык · Тілді таңдаңыз · Choose a language",
        "en": "Выберите язык · Тілді таңдаңыз · Choose a language",
    },
    "language.set": {
        "ru": "Язык: русский. Опишите проблему одним сообщением.",
        "kk": "Тіл: қазақша. Мәселені бір хабарламамен сипаттаңыз.",
        "en": "Language: English. Describe the problem in one message.",
    },
    "draft.summary": {
        "ru": "Я понял так:\nКатегория: {category}\nОтдел: {department}\nРайон: {district}\n"
        "Фото: {photos} · Геолокация: {location}\n\nОтправить?",
        "kk": "Мен былай түсіндім:\nСанат: {category}\nБөлім: {department}\nАудан: {district}\n"
        "Фото: {photos} · Геолокация: {location}\n\nЖіберейін бе?",
        "en": "Here is what I understood:\nCategory: {category}\nDepartment: {department}\n"
        "District: {district}\n"
        "Photos: {photos} · Location: {location}\n\nSend it?",
    },
    "draft.more": {
        "ru": "Можно добавить фото, геолокацию или номер телефона — или сразу отправить.",
        "kk": "Фото, геолокация не телефон нөмірін қосуға болады — немесе бірден жіберіңіз.",
        "en": "You can add photos, your location or your phone number, or send it now.",
    },
    "draft.need_text": {
        "ru": "Геолокация добавлена. Теперь опишите проблему словами.",
        "kk": "Геолокация қосылды. Енді мәселені сөзбен сипаттаңыз.",
        "en": "Location added. Now describe the problem in words.",
    },
    "draft.too_short": {
        "ru": "Слишком коротко. Опишите проблему подробнее: что случилось и где.",
        "kk": "Тым қысқа. Мәселені толығырақ жазыңыз: не болды және қай жерде.",
        "en": "That is too short. Please describe the problem: what happened and where.",
    },
    "draft.too_long": {
        "ru": "Сообщение слишком длинное (больше {limit} символов). Сократите, пожалуйста.",
        "kk": "Хабарлама тым ұзын ({limit} таңбадан көп). Қысқартыңызшы.",
        "en": "The message is too long (over {limit} characters). Please shorten it.",
    },
    "draft.too_many_photos": {
        "ru": "Можно приложить не больше {limit} фото.",
        "kk": "{limit} фотодан артық қосуға болмайды.",
        "en": "At most {limit} photos can be attached.",
    },
    "draft.pick_category": {
        "ru": "Выберите категорию:",
        "kk": "Санатты таңдаңыз:",
        "en": "Choose a category:",
    },
    "draft.cancelled": {
        "ru": "Отменено. Если проблема появится — просто напишите.",
        "kk": "Болдырылмады. Мәселе туындаса — жай ғана жазыңыз.",
        "en": "Cancelled. If there is a problem, just write.",
    },
    "draft.expired": {
        "ru": "Этот черновик уже неактуален. Опишите проблему заново.",
        "kk": "Бұл жоба ескірген. Мәселені қайта сипаттаңыз.",
        "en": "This draft is no longer current. Please describe the problem again.",
    },
    "draft.sent": {
        "ru": "Обращение №{number} принято и передано в {department}. Я сообщу, когда его возьмут в работу.",
        "kk": "№{number} өтініш қабылданып, {department} жіберілді. Жұмысқа алынғанда хабарлаймын.",
        "en": "Complaint #{number} is filed and forwarded to {department}. I will tell you when it is taken.",
    },
    "draft.rate_limited": {
        "ru": "Вы отправили уже {limit} обращений за час. Черновик сохранён — отправьте его после {time}.",
        "kk": "Бір сағатта {limit} өтініш жібердіңіз. Жоба сақталды — оны {time} кейін жіберіңіз.",
        "en": "You have sent {limit} complaints in the last hour. Your draft is kept: send it after {time}.",
    },
    "draft.not_complaint": {
        "ru": "Похоже, это не жалоба. Всё равно отправить в акимат?",
        "kk": "Бұл шағымға ұқсамайды. Бәрібір әкімдікке жіберейін бе?",
        "en": "This does not look like a complaint. Send it to the city anyway?",
    },
    "contact.saved": {
        "ru": "Спасибо, номер сохранён — отдел сможет с вами связаться.",
        "kk": "Рақмет, нөмір сақталды — бөлім сізбен байланыса алады.",
        "en": "Thank you, your number is saved so the department can call you.",
    },
    "contact.not_yours": {
        "ru": "Пожалуйста, поделитесь своим номером кнопкой ниже.",
        "kk": "Өз нөміріңізді төмендегі батырмамен бөлісіңіз.",
        "en": "Please share your own number with the button below.",
    },
    "draft.location_invalid": {
        "ru": "Эта геолокация недействительна (неверные координаты), я её не добавил. "
        "Отправьте точку ещё раз кнопкой «📍 Отправить геолокацию» или напишите адрес.",
        "kk": "Бұл геолокация жарамсыз (координаттары қате), мен оны қоспадым. "
        "Нүктені «📍 Геолокация жіберу» батырмасымен қайта жіберіңіз немесе мекенжайды жазыңыз.",
        "en": "This location is invalid (its coordinates are impossible), so I did not add it. "
        "Send the point again with “📍 Send my location” or write the address.",
    },
    "document.no_caption": {
        "ru": "Файлы я не передаю в отдел. Опишите проблему текстом (можно подписью к файлу), "
        "а снимки отправьте как фото.",
        "kk": "Файлдарды бөлімге жібермеймін. Мәселені мәтінмен сипаттаңыз "
        "(файлдың қолтаңбасымен де болады), ал суреттерді фото ретінде жіберіңіз.",
        "en": "I do not pass files on to the department. Please describe the problem in text (a caption "
        "on the file will do) and send pictures as photos.",
    },
    "unsupported": {
        "ru": "Я понимаю только текст, фото, геолокацию и контакт. Опишите проблему текстом, пожалуйста.",
        "kk": "Мен тек мәтінді, фотоны, геолокацияны және контактіні түсінемін. Мәселені мәтінмен жазыңыз.",
        "en": "I understand text, photos, locations and contacts only. Please describe the problem in text.",
    },
    "blocked": {
        "ru": "Приём обращений от вас приостановлен администратором. Обратитесь в iKomek 109.",
        "kk": "Сізден өтініш қабылдау әкімші тарапынан тоқтатылды. iKomek 109-ға хабарласыңыз.",
        "en": "An administrator has paused complaints from you. Please call iKomek 109.",
    },
    "my.empty": {
        "ru": "У вас пока нет обращений.",
        "kk": "Сізде әзірге өтініш жоқ.",
        "en": "You have no complaints yet.",
    },
    "my.header": {"ru": "Ваши обращения:", "kk": "Сіздің өтініштеріңіз:", "en": "Your complaints:"},
    "my.line": {
        "ru": "№{number} · {category} · {status} · {date}",
        "kk": "№{number} · {category} · {status} · {date}",
        "en": "#{number} · {category} · {status} · {date}",
    },
    "status.usage": {
        "ru": "Напишите номер: /status 123",
        "kk": "Нөмірін жазыңыз: /status 123",
        "en": "Give the number: /status 123",
    },
    "status.not_found": {
        "ru": "Обращение №{number} не найдено среди ваших.",
        "kk": "№{number} өтініш сіздің өтініштеріңіз арасында жоқ.",
        "en": "Complaint #{number} is not among yours.",
    },
    "status.detail": {
        "ru": "Обращение №{number}\nКатегория: {category}\nОтдел: {department}\nСтатус: {status}\n"
        "Подано: {date}\n\n{text}",
        "kk": "№{number} өтініш\nСанат: {category}\nБөлім: {department}\nМәртебесі: {status}\n"
        "Берілген күні: {date}\n\n{text}",
        "en": "Complaint #{number}\nCategory: {category}\nDepartment: {department}\nStatus: {status}\n"
        "Filed: {date}\n\n{text}",
    },
    "notify.taken": {
        "ru": "Ваше обращение №{number} взято в работу: {department}.",
        "kk": "№{number} өтінішіңіз жұмысқа алынды: {department}.",
        "en": "Your complaint #{number} has been taken up by {department}.",
    },
    "notify.rerouted": {
        "ru": "Ваше обращение №{number} передано в другой отдел: {department}.",
        "kk": "№{number} өтінішіңіз басқа бөлімге жіберілді: {department}.",
        "en": "Your complaint #{number} was passed to another department: {department}.",
    },
    "notify.resolved": {
        "ru": "Обращение №{number} отмечено как решённое.\nКомментарий отдела: {comment}",
        "kk": "№{number} өтініш шешілді деп белгіленді.\nБөлімнің түсініктемесі: {comment}",
        "en": "Complaint #{number} is marked resolved.\nThe department's comment: {comment}",
    },
    "notify.rejected": {
        "ru": "Обращение №{number} закрыто отделом без исполнения: {comment}",
        "kk": "№{number} өтінішті бөлім орындамай жапты: {comment}",
        "en": "Complaint #{number} was closed by the department without action: {comment}",
    },
    "notify.merged": {
        "ru": "Ваше обращение №{number} объединено с похожим №{original}; о решении вы узнаете.",
        "kk": "№{number} өтінішіңіз ұқсас №{original} өтінішпен біріктірілді; шешімі туралы хабарлаймыз.",
        "en": "Your complaint #{number} was merged with a similar one, #{original}; "
        "you will hear when it is fixed.",
    },
    "confirm.question": {
        "ru": "Проблема действительно решена?",
        "kk": "Мәселе шынымен шешілді ме?",
        "en": "Is the problem really gone?",
    },
    "confirm.thanks": {
        "ru": "Спасибо, что подтвердили!",
        "kk": "Растағаныңызға рақмет!",
        "en": "Thank you for confirming!",
    },
    "confirm.reopened": {
        "ru": "Обращение №{number} открыто снова и возвращено в отдел.",
        "kk": "№{number} өтініш қайта ашылып, бөлімге қайтарылды.",
        "en": "Complaint #{number} is reopened and sent back to the department.",
    },
    "confirm.stale": {
        "ru": "Эта кнопка уже неактуальна.",
        "kk": "Бұл батырма енді өзекті емес.",
        "en": "This button no longer applies.",
    },
    "admin.blocked": {
        "ru": "Пользователь {user_id} заблокирован.",
        "kk": "{user_id} пайдаланушысы бұғатталды.",
        "en": "User {user_id} is blocked.",
    },
    "admin.unblocked": {
        "ru": "Пользователь {user_id} разблокирован.",
        "kk": "{user_id} пайдаланушысы бұғаттан шығарылды.",
        "en": "User {user_id} is unblocked.",
    },
    "admin.usage": {
        "ru": "Команды: /block ID, /unblock ID, /erase ID (удалить персональные данные жителя)",
        "kk": "Командалар: /block ID, /unblock ID, /erase ID (тұрғынның дербес деректерін өшіру)",
        "en": "Commands: /block ID, /unblock ID, /erase ID (erase a resident's personal data)",
    },
    "admin.erased": {
        "ru": "Персональные данные пользователя {user_id} удалены. Обращений без автора: {complaints}, "
        "очищено сохранённых сообщений: {inbox}, удалено черновиков: {drafts}.",
        "kk": "{user_id} пайдаланушысының дербес деректері өшірілді. "
        "Авторсыз қалған өтініштер: {complaints}, тазартылған сақталған хабарламалар: {inbox}, "
        "жойылған жобалар: {drafts}.",
        "en": "User {user_id}'s personal data is erased. Complaints left without an author: {complaints}, "
        "stored messages cleared: {inbox}, drafts deleted: {drafts}.",
    },
    "admin.erased_open": {
        "ru": "Из них ещё открыто: {count}. Отделы продолжат работу, но сообщить жителю о результате "
        "бот больше не сможет.",
        "kk": "Олардың ішінде әлі ашық: {count}. Бөлімдер жұмысын жалғастырады, бірақ бот тұрғынға "
        "нәтижесін енді хабарлай алмайды.",
        "en": "{count} of them are still open: the departments keep working on them, but the bot can no "
        "longer tell the resident the outcome.",
    },
    "admin.erased_blocked": {
        "ru": "Пользователь остаётся заблокированным: хранятся только его Telegram ID "
        "и отметка о блокировке. Чтобы удалить и их: /unblock {user_id}, затем /erase {user_id}.",
        "kk": "Пайдаланушы бұғатталған күйінде қалады: тек Telegram ID-і мен бұғат белгісі сақталады. "
        "Оларды да өшіру үшін: /unblock {user_id}, содан кейін /erase {user_id}.",
        "en": "The user stays blocked: only their Telegram ID and the block are kept. "
        "To remove those too: /unblock {user_id}, then /erase {user_id}.",
    },
    "admin.erase_nothing": {
        "ru": "О пользователе {user_id} ничего не хранится.",
        "kk": "{user_id} пайдаланушысы туралы ештеңе сақталмаған.",
        "en": "Nothing is stored about user {user_id}.",
    },
    "button.send": {"ru": "✅ Отправить", "kk": "✅ Жіберу", "en": "✅ Send"},
    "button.change_category": {"ru": "✏️ Другая категория", "kk": "✏️ Басқа санат", "en": "✏️ Change category"},
    "button.cancel": {"ru": "✖️ Отмена", "kk": "✖️ Болдырмау", "en": "✖️ Cancel"},
    "button.share_contact": {
        "ru": "📞 Поделиться номером",
        "kk": "📞 Нөмірмен бөлісу",
        "en": "📞 Share my number",
    },
    "button.share_location": {
        "ru": "📍 Отправить геолокацию",
        "kk": "📍 Геолокация жіберу",
        "en": "📍 Send my location",
    },
    "button.yes_fixed": {"ru": "👍 Да, решена", "kk": "👍 Иә, шешілді", "en": "👍 Yes, it is fixed"},
    "button.not_fixed": {"ru": "👎 Нет, не решена", "kk": "👎 Жоқ, шешілмеді", "en": "👎 No, it is not"},
    "word.yes": {"ru": "есть", "kk": "бар", "en": "yes"},
    "word.no": {"ru": "нет", "kk": "жоқ", "en": "no"},
    "deadline.reminder": {
        "ru": "⏰ №{number}: срок ответа истекает {due}.",
        "kk": "⏰ №{number}: жауап беру мерзімі {due} аяқталады.",
        "en": "⏰ #{number}: the answer is due {due}.",
    },
    "deadline.overdue_head": {
        "ru": "⚠️ Просрочено обращение №{number} ({department}): срок был {due}.",
        "kk": "⚠️ №{number} өтініш мерзімі өтті ({department}): мерзімі {due} болатын.",
        "en": "⚠️ Complaint #{number} ({department}) is overdue: it was due {due}.",
    },
    "deadline.overdue_official": {
        "ru": "⚠️ Обращение №{number} ({department}, {category}) просрочено более чем на {hours} ч. "
        "Руководитель отдела уведомлён {escalated}.",
        "kk": "⚠️ №{number} өтініш ({department}, {category}) {hours} сағаттан астам кешіктірілді. "
        "Бөлім басшысына {escalated} хабарланды.",
        "en": "⚠️ Complaint #{number} ({department}, {category}) is more than {hours} h overdue. "
        "The head of the department was told {escalated}.",
    },
    "button.no_comment": {"ru": "Без комментария", "kk": "Түсініктемесіз", "en": "No comment"},
    "button.back": {"ru": "« Назад", "kk": "« Артқа", "en": "« Back"},
    "button.outdated": {
        "ru": "Эта кнопка устарела. Откройте меню заново.",
        "kk": "Бұл батырма ескірген. Мәзірді қайта ашыңыз.",
        "en": "This button is out of date. Open the menu again.",
    },
    "desk.stale": {
        "ru": "Эта кнопка уже неактуальна.",
        "kk": "Бұл батырма енді өзекті емес.",
        "en": "This button no longer applies.",
    },
    "desk.moved": {
        "ru": "Обращение уже передано в другой отдел.",
        "kk": "Өтініш басқа бөлімге берілген.",
        "en": "This complaint has moved to another department.",
    },
    "desk.not_found": {
        "ru": "Обращения №{number} не существует.",
        "kk": "№{number} өтініш жоқ.",
        "en": "Complaint #{number} does not exist.",
    },
    "desk.closed": {
        "ru": "Обращение уже закрыто.",
        "kk": "Өтініш жабылған.",
        "en": "This complaint is already closed.",
    },
    "desk.forbidden": {
        "ru": "Действовать могут только сотрудники отдела и администраторы чата.",
        "kk": "Тек бөлім қызметкерлері мен чат әкімшілері әрекет ете алады.",
        "en": "Only the department's staff and this chat's administrators can act.",
    },
    "desk.already": {
        "ru": "Уже сделано: статус «{status}».",
        "kk": "Орындалған: мәртебесі «{status}».",
        "en": "Already done: the status is '{status}'.",
    },
    "desk.taken": {"ru": "Взято в работу", "kk": "Жұмысқа алынды", "en": "Taken"},
    "desk.resolve_asked": {
        "ru": "Напишите комментарий ответом на сообщение",
        "kk": "Түсініктемені хабарламаға жауап ретінде жазыңыз",
        "en": "Reply to the message with a comment",
    },
    "desk.resolve_prompt": {
        "ru": "№{number}: ответьте на это сообщение коротким комментарием для жителя — что сделано.",
        "kk": "№{number}: тұрғынға қысқа түсініктемемен осы хабарламаға жауап беріңіз — не істелді.",
        "en": "#{number}: reply to this message with a short comment for the resident on what was done.",
    },
    "desk.resolved": {
        "ru": "Решено, житель уведомлён",
        "kk": "Шешілді, тұрғын хабардар",
        "en": "Resolved; the resident is told",
    },
    "desk.rejected": {
        "ru": "Отмечено: не жалоба",
        "kk": "Белгіленді: шағым емес",
        "en": "Marked: not a complaint",
    },
    "desk.rejected_comment": {
        "ru": "обращение не является жалобой для городских служб",
        "kk": "өтініш қалалық қызметтерге арналған шағым емес",
        "en": "this is not a complaint for the city services",
    },
    "desk.rerouted": {
        "ru": "Передано: {department}",
        "kk": "Жіберілді: {department}",
        "en": "Passed to {department}",
    },
    "desk.moved_card": {
        "ru": "↪️ Обращение №{number} передано в {department}.",
        "kk": "↪️ №{number} өтініш {department} жіберілді.",
        "en": "↪️ Complaint #{number} was passed to {department}.",
    },
    "desk.no_duplicates": {
        "ru": "Нет открытых обращений, с которыми можно объединить.",
        "kk": "Біріктіруге болатын ашық өтініш жоқ.",
        "en": "There is no open complaint to merge with.",
    },
    "desk.merged": {
        "ru": "Объединено с №{original}",
        "kk": "№{original} өтінішпен біріктірілді",
        "en": "Merged with #{original}",
    },
    "combined.title": {
        "ru": "📥 Новые обращения: {count}",
        "kk": "📥 Жаңа өтініштер: {count}",
        "en": "📥 New complaints: {count}",
    },
    "combined.hint": {
        "ru": "Обращений много сразу, поэтому они собраны в одно сообщение. "
        "«Открыть» присылает карточку обращения с кнопками.",
        "kk": "Бір мезгілде өтініш көп болғандықтан, олар бір хабарламаға жиналды. "
        "«Ашу» өтініштің батырмалары бар карточкасын жібереді.",
        "en": "Many complaints came at once, so they are listed in one message. "
        "“Open” sends a complaint's card with its buttons.",
    },
    "combined.number": {"ru": "№{number}", "kk": "№{number}", "en": "#{number}"},
    "combined.opened": {
        "ru": "↗ открыто отдельной карточкой",
        "kk": "↗ жеке карточкамен ашылды",
        "en": "↗ opened as its own card",
    },
    "combined.opening": {
        "ru": "⏳ карточка отправляется",
        "kk": "⏳ карточка жіберілуде",
        "en": "⏳ the card is on its way",
    },
    "combined.moved": {
        "ru": "↪️ передано: {department}",
        "kk": "↪️ жіберілді: {department}",
        "en": "↪️ passed to {department}",
    },
    "button.open": {"ru": "№{number} ▸ открыть", "kk": "№{number} ▸ ашу", "en": "#{number} ▸ open"},
    "desk.opening": {
        "ru": "Карточка №{number} сейчас появится в чате",
        "kk": "№{number} карточкасы қазір чатта пайда болады",
        "en": "The card of #{number} will appear in the chat shortly",
    },
}

# Digest texts (bot/digests.py), kept apart only for readability; a test checks every placeholder.
_DIGEST: dict[str, dict[str, str]] = {
    "title": {
        "ru": "📊 Сводка обращений — {city}",
        "kk": "📊 Өтініштер шолуы — {city}",
        "en": "📊 Complaints digest — {city}",
    },
    "department": {"ru": "Отдел: {name}", "kk": "Бөлім: {name}", "en": "Department: {name}"},
    "period": {
        "ru": "Период: {start} — {end}",
        "kk": "Кезең: {start} — {end}",
        "en": "Period: {start} — {end}",
    },
    "compared": {
        "ru": "В скобках — изменение к предыдущему периоду такой же длины.",
        "kk": "Жақшада — осындай ұзақтықтағы алдыңғы кезеңмен салыстырғандағы өзгеріс.",
        "en": "In brackets: the change vs the previous period of the same length.",
    },
    "section.summary": {"ru": "Итоги", "kk": "Қорытынды", "en": "Summary"},
    "summary.new": {
        "ru": "Новые обращения: {value}",
        "kk": "Жаңа өтініштер: {value}",
        "en": "New complaints: {value}",
    },
    "summary.resolved": {"ru": "Решено: {value}", "kk": "Шешілді: {value}", "en": "Resolved: {value}"},
    "summary.overdue": {
        "ru": "Просрочено: {value}",
        "kk": "Мерзімі өткен: {value}",
        "en": "Overdue: {value}",
    },
    "section.departments": {"ru": "По отделам", "kk": "Бөлімдер бойынша", "en": "By department"},
    "department.item": {
        "ru": "{name}: новых {new}, решено {resolved}, просрочено {overdue}",
        "kk": "{name}: жаңа {new}, шешілді {resolved}, мерзімі өткен {overdue}",
        "en": "{name}: {new} new, {resolved} resolved, {overdue} overdue",
    },
    "section.categories": {"ru": "По категориям", "kk": "Санаттар бойынша", "en": "By category"},
    "section.repeated": {
        "ru": "🔁 Повторяющиеся проблемы",
        "kk": "🔁 Қайталанатын мәселелер",
        "en": "🔁 Most repeated problems",
    },
    "repeated.duplicates": {
        "ru": "№{number} · {category} · {district} — ещё жителей: {count}",
        "kk": "№{number} · {category} · {district} — тағы тұрғындар: {count}",
        "en": "#{number} · {category} · {district} — more residents: {count}",
    },
    "repeated.place": {
        "ru": "{category} · {district} — обращений: {count}",
        "kk": "{category} · {district} — өтініштер: {count}",
        "en": "{category} · {district} — complaints: {count}",
    },
    "link.message": {"ru": "сообщение", "kk": "хабарлама", "en": "message"},
    "link.latest": {"ru": "последнее сообщение", "kk": "соңғы хабарлама", "en": "latest message"},
    "section.urgent": {
        "ru": "🔴 Срочные за период",
        "kk": "🔴 Кезеңдегі шұғыл өтініштер",
        "en": "🔴 Urgent this period",
    },
    "urgent.item": {
        "ru": "№{number} · {category} · {district} · {status}",
        "kk": "№{number} · {category} · {district} · {status}",
        "en": "#{number} · {category} · {district} · {status}",
    },
    "urgent.more": {"ru": "… и ещё {count}", "kk": "… тағы {count}", "en": "… and {count} more"},
    "section.spikes": {"ru": "📈 Новые всплески", "kk": "📈 Жаңа өсулер", "en": "📈 Emerging problems"},
    "spike.category": {"ru": "Категория", "kk": "Санат", "en": "Category"},
    "spike.district": {"ru": "Район", "kk": "Аудан", "en": "District"},
    "spike.item": {
        "ru": "{kind}: {name} — {count} (обычно {mean} ± {std})",
        "kk": "{kind}: {name} — {count} (әдетте {mean} ± {std})",
        "en": "{kind}: {name} — {count} (usually {mean} ± {std})",
    },
    "spike.rule": {
        "ru": "Всплеск: не меньше 3 обращений и больше среднего + 3σ за такие же периоды последних 4 недель.",
        "kk": "Өсу: кемінде 3 өтініш және соңғы 4 аптадағы осындай кезеңдердің орташасы + 3σ-дан көп.",
        "en": "A spike: at least 3 complaints and more than the mean + 3σ of same-length periods "
        "in the last 4 weeks.",
    },
    "spike.no_history": {
        "ru": "Пока мало истории для сравнения.",
        "kk": "Салыстыруға тарих әлі жеткіліксіз.",
        "en": "Not enough history to compare yet.",
    },
    "section.speed": {
        "ru": "⏱ Время решения (медиана)",
        "kk": "⏱ Шешу уақыты (медиана)",
        "en": "⏱ Time to resolution (median)",
    },
    "speed.fastest": {"ru": "Быстрее всех", "kk": "Ең жылдам", "en": "Fastest"},
    "speed.slowest": {"ru": "Медленнее всех", "kk": "Ең баяу", "en": "Slowest"},
    "speed.item": {
        "ru": "{name}: {duration} (решено: {count})",
        "kk": "{name}: {duration} (шешілді: {count})",
        "en": "{name}: {duration} ({count} resolved)",
    },
    "none": {"ru": "нет", "kk": "жоқ", "en": "none"},
    "unit.day": {"ru": "д", "kk": "күн", "en": "d"},
    "unit.hour": {"ru": "ч", "kk": "сағ", "en": "h"},
    "unit.minute": {"ru": "мин", "kk": "мин", "en": "min"},
    "chart.departments": {
        "ru": "Новые и решённые по отделам",
        "kk": "Бөлімдер бойынша жаңа және шешілген",
        "en": "New and resolved by department",
    },
    "chart.categories": {
        "ru": "Новые и решённые по категориям",
        "kk": "Санаттар бойынша жаңа және шешілген",
        "en": "New and resolved by category",
    },
    "chart.new": {"ru": "Новые", "kk": "Жаңа", "en": "New"},
    "chart.resolved": {"ru": "Решённые", "kk": "Шешілген", "en": "Resolved"},
    "chart.axis": {"ru": "Обращений", "kk": "Өтініштер саны", "en": "Complaints"},
    "chart.empty": {
        "ru": "Нет обращений за период",
        "kk": "Кезеңде өтініш жоқ",
        "en": "No complaints in the period",
    },
}
CATALOG.update({f"digest.{key}": entry for key, entry in _DIGEST.items()})


def t(key: str, language: str | None = None, **values: Any) -> str:
    """The text for `key` in `language` (Russian when the language is unknown), formatted with values."""
    entry = CATALOG[key]
    template = entry.get(language or DEFAULT_LANGUAGE) or entry[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template


def t_html(key: str, language: str | None = None, **values: Any) -> str:
    """`t()` for a message sent with parse_mode=HTML: every value escaped, the template's markup kept."""
    # values are names from the config, residents' and staff's texts: any of them may hold & < >;
    # a test checks every template is valid HTML by itself. Plain-text messages use t(), unescaped.
    return t(key, language, **{name: escape_html(str(value)) for name, value in values.items()})


def normalize_language(code: str | None) -> str:
    """Map a Telegram language_code (e.g. "kk", "ru-RU", "en-GB") to one of ours, or Russian."""
    if not code:
        return DEFAULT_LANGUAGE
    base = code.split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE
