// UI strings in English and French. The language is the first of the
// browser's languages that salon speaks; `?lang=fr` (or en) overrides it.
//
//   t('announce.joined', {name: 'Ada'})  →  "Ada joined"
//
// Static pages mark text with data-i18n="key" (textContent) and attributes
// with data-i18n-attr="aria-label:key;title:key"; translateDocument fills them.

const NBSP = '\u202f'; // French puts a narrow no-break space before ? ! : ;

const STRINGS = {
  en: {
    lang: 'en',
    defaultName: 'Guest',
    loading: 'Loading…',
    joining: 'Joining the meeting…',

    'prejoin.title': 'Ready to join?',
    'prejoin.meeting': 'Meeting',
    'prejoin.nameLabel': 'Your name',
    'prejoin.namePlaceholder': 'How others will see you',
    'prejoin.nameRequired': 'Enter your name (up to 64 characters) so others know who you are.',
    'prejoin.join': 'Join now',
    'prejoin.cameraOff': 'Camera is off',
    'prejoin.micLevel': 'Microphone level',
    'prejoin.hint': 'You can change your devices at any time during the meeting.',

    'devices.cameraLabel': 'Camera',
    'devices.micLabel': 'Microphone',
    'devices.speakerLabel': 'Speaker',
    'devices.camera': 'Camera {n}',
    'devices.mic': 'Microphone {n}',
    'devices.speaker': 'Speaker {n}',
    'devices.noCamera': 'No camera found',
    'devices.noMic': 'No microphone found',
    'devices.noSpeaker': 'Default speaker',

    'controls.toolbar': 'Meeting controls',
    'controls.micLabel': 'Mute microphone',
    'controls.cameraLabel': 'Turn camera off',
    'controls.screenLabel': 'Share screen',
    'controls.mute': 'Mute microphone',
    'controls.unmute': 'Unmute microphone',
    'controls.cameraOff': 'Turn camera off',
    'controls.cameraOn': 'Turn camera on',
    'controls.screen': 'Share your screen',
    'controls.stopScreen': 'Stop sharing your screen',
    'controls.screenUnsupported': 'This browser cannot share the screen',
    'controls.settings': 'Settings',
    'controls.copyLink': 'Copy meeting link',
    'controls.leave': 'Leave meeting',

    'room.participants': 'Participants',
    'room.count': '{n} in the meeting',

    'tile.you': '{name} (you)',
    'tile.unnamed': 'Guest',
    'tile.micMuted': 'Microphone muted',
    'tile.reconnecting': 'Reconnecting…',
    'tile.pausedBandwidth': 'Video paused: the connection is too slow',
    'tile.pausedLastN': 'Video paused while others speak',
    'tile.screenOf': '{name}’s screen',
    'tile.yourScreen': 'Your screen',
    'tile.fullscreen': 'Full screen',

    'state.connecting': 'Connecting…',
    'state.connected': 'Connected',
    'state.reconnecting': 'Connection lost. Reconnecting…',
    'state.disconnected': 'Disconnected. salon could not be reached again.',
    'state.failed': 'The connection to the meeting failed.',
    'state.rejoin': 'Rejoin',

    'announce.joined': '{name} joined',
    'announce.left': '{name} left',
    'announce.presenting': '{name} is sharing their screen',

    'audio.blocked': 'Your browser blocked the sound of this meeting.',
    'audio.unblock': 'Turn on sound',

    'settings.title': 'Settings',
    'settings.done': 'Done',

    'left.title': 'You left the meeting',
    'left.text': 'Your camera and microphone are off.',
    'left.rejoin': 'Rejoin',
    'left.home': 'Return to the home page',

    'toast.linkCopied': 'Meeting link copied',
    'toast.linkIs': 'Meeting link: {link}',

    'media.both.denied': 'Camera and microphone access is blocked. Allow it in your browser’s site settings, then reload the page.',
    'media.both.not-found': 'No camera or microphone was found.',
    'media.both.in-use': 'Your camera and microphone are in use by another application. Close it and try again.',
    'media.both.insecure': 'Camera and microphone only work on a secure (HTTPS) page.',
    'media.both.failed': 'Your camera and microphone could not be started.',
    'media.camera.denied': 'Camera access is blocked. Allow it in your browser’s site settings, then reload the page.',
    'media.camera.not-found': 'No camera was found.',
    'media.camera.in-use': 'Your camera is in use by another application. Close it and try again.',
    'media.camera.insecure': 'The camera only works on a secure (HTTPS) page.',
    'media.camera.failed': 'Your camera could not be started.',
    'media.mic.denied': 'Microphone access is blocked. Allow it in your browser’s site settings, then reload the page.',
    'media.mic.not-found': 'No microphone was found.',
    'media.mic.in-use': 'Your microphone is in use by another application. Close it and try again.',
    'media.mic.insecure': 'The microphone only works on a secure (HTTPS) page.',
    'media.mic.failed': 'Your microphone could not be started.',
    'media.watchOnly': 'You can still join to see and hear the others.',
    'media.audioOnly': 'You can still join with your microphone.',
    'media.videoOnly': 'You can still join with your camera.',
    'media.micLost': 'Your microphone was disconnected. Choose another one in Settings.',
    'media.cameraLost': 'Your camera was disconnected. Choose another one in Settings.',
    'media.screenFailed': 'Your screen could not be shared. Try again, or check your system’s screen recording permission.',

    'error.dismiss': 'Dismiss',
    'error.retry': 'Try again',
    'error.home': 'Go to the home page',
    'error.generic': 'Something went wrong. Try again.',
    'error.joinFailed': 'Could not join the meeting',
    'error.unsupported.title': 'This browser cannot join meetings',
    'error.unsupported': 'Use a recent version of Firefox, Chrome, Edge or Safari.',
    'error.unknown-meeting.title': 'This meeting does not exist',
    'error.code.unknown-meeting': 'Check the link you were given, or ask the organizer for a new one.',
    'error.code.bad-name': 'This name cannot be used. Choose a name of 1 to 64 characters.',
    'error.code.unreachable': 'salon cannot be reached. Check your network connection and try again.',
    'error.code.timeout': 'salon did not answer in time. Check your network connection and try again.',
    'error.code.closed': 'The connection to salon was closed. Try again.',
    'error.code.server-error': 'salon had a problem. Try again in a moment.',
    'error.code.rate-limited': 'Too many attempts. Wait a moment, then try again.',
    'error.code.cross-origin': 'This page may not join meetings on this server. Open the meeting link itself.',
    'error.code.bad-response': 'salon gave an unexpected answer. Reload the page and try again.',
    'error.code.bad-token': 'Your invitation to this meeting was refused. Reload the page and try again.',
    'error.code.token-expired': 'Joining took too long. Try again.',
    'error.code.wrong-room': 'Your invitation is for another meeting. Check the link.',
    'error.code.resume-failed': 'Your place in the meeting was lost. Rejoin to continue.',
    'error.code.shutting-down': 'salon is restarting. Try again in a few seconds.',
    'error.code.unavailable': 'salon is temporarily unavailable. Trying again…',
    'error.code.replaced': 'You opened this meeting in another window or device, so this one was disconnected.',
    'error.code.publish-failed': 'Your camera or microphone could not be sent to the meeting.',
    'error.code.subscribe-failed': 'The others’ video and sound could not be received.',
    'error.code.bad-sdp': 'Your browser and salon could not agree on how to send media.',
    'error.code.internal': 'salon had a problem. Try again in a moment.',
    'error.code.disconnected': 'The connection to salon was lost and could not be restored. Check your network, then rejoin.',

    'home.title': 'salon · meetings on your own server',
    'home.tagline': 'Meetings on your own server',
    'home.lead': 'salon is a self-hosted meeting hub. Schedule a meeting from the calendar you already use; everyone invited gets a link that opens a video room right in the browser.',
    'home.joinTitle': 'Join a meeting',
    'home.linkLabel': 'Meeting link or name',
    'home.linkPlaceholder': 'https://…/m/weekly or weekly',
    'home.go': 'Join',
    'home.badLink': 'That does not look like a meeting link. Paste the whole link from your invitation, or the meeting’s name.',
    'home.empty': 'Paste the link from your invitation, or type the meeting’s name.',
    'home.f1.title': 'From your calendar',
    'home.f1.text': 'Thunderbird, Apple Calendar, DAVx5, Evolution: invite people as usual, salon sends the invitations and collects the replies.',
    'home.f2.title': 'In the browser',
    'home.f2.text': 'No plug-in, no app to install: the link opens the room in Firefox, Chrome, Edge or Safari, on a computer or a phone.',
    'home.f3.title': 'Yours',
    'home.f3.text': 'One program on your own server, with its own video relay. No third-party service sees your meetings.',
  },

  fr: {
    lang: 'fr',
    defaultName: 'Invité',
    loading: 'Chargement…',
    joining: 'Connexion à la réunion…',

    'prejoin.title': `Tout est prêt${NBSP}?`,
    'prejoin.meeting': 'Réunion',
    'prejoin.nameLabel': 'Votre nom',
    'prejoin.namePlaceholder': 'Le nom que verront les autres',
    'prejoin.nameRequired': 'Saisissez votre nom (64 caractères au plus) pour que les autres sachent qui vous êtes.',
    'prejoin.join': 'Participer',
    'prejoin.cameraOff': 'La caméra est coupée',
    'prejoin.micLevel': 'Niveau du micro',
    'prejoin.hint': 'Vous pourrez changer d’appareils à tout moment pendant la réunion.',

    'devices.cameraLabel': 'Caméra',
    'devices.micLabel': 'Micro',
    'devices.speakerLabel': 'Haut-parleur',
    'devices.camera': 'Caméra {n}',
    'devices.mic': 'Micro {n}',
    'devices.speaker': 'Haut-parleur {n}',
    'devices.noCamera': 'Aucune caméra trouvée',
    'devices.noMic': 'Aucun micro trouvé',
    'devices.noSpeaker': 'Haut-parleur par défaut',

    'controls.toolbar': 'Commandes de la réunion',
    'controls.micLabel': 'Couper le micro',
    'controls.cameraLabel': 'Couper la caméra',
    'controls.screenLabel': 'Partager l’écran',
    'controls.mute': 'Couper le micro',
    'controls.unmute': 'Activer le micro',
    'controls.cameraOff': 'Couper la caméra',
    'controls.cameraOn': 'Activer la caméra',
    'controls.screen': 'Partager votre écran',
    'controls.stopScreen': 'Arrêter le partage d’écran',
    'controls.screenUnsupported': 'Ce navigateur ne peut pas partager l’écran',
    'controls.settings': 'Paramètres',
    'controls.copyLink': 'Copier le lien de la réunion',
    'controls.leave': 'Quitter la réunion',

    'room.participants': 'Participants',
    'room.count': '{n} dans la réunion',

    'tile.you': '{name} (vous)',
    'tile.unnamed': 'Invité',
    'tile.micMuted': 'Micro coupé',
    'tile.reconnecting': 'Reconnexion…',
    'tile.pausedBandwidth': 'Vidéo en pause : connexion trop lente',
    'tile.pausedLastN': 'Vidéo en pause pendant que d’autres parlent',
    'tile.screenOf': 'Écran de {name}',
    'tile.yourScreen': 'Votre écran',
    'tile.fullscreen': 'Plein écran',

    'state.connecting': 'Connexion…',
    'state.connected': 'Connecté',
    'state.reconnecting': 'Connexion perdue. Reconnexion en cours…',
    'state.disconnected': 'Déconnecté. salon n’a pas pu être joint à nouveau.',
    'state.failed': 'La connexion à la réunion a échoué.',
    'state.rejoin': 'Rejoindre',

    'announce.joined': '{name} a rejoint la réunion',
    'announce.left': '{name} a quitté la réunion',
    'announce.presenting': '{name} partage son écran',

    'audio.blocked': 'Votre navigateur a bloqué le son de cette réunion.',
    'audio.unblock': 'Activer le son',

    'settings.title': 'Paramètres',
    'settings.done': 'Terminé',

    'left.title': 'Vous avez quitté la réunion',
    'left.text': 'Votre caméra et votre micro sont coupés.',
    'left.rejoin': 'Rejoindre à nouveau',
    'left.home': 'Revenir à l’accueil',

    'toast.linkCopied': 'Lien de la réunion copié',
    'toast.linkIs': `Lien de la réunion${NBSP}: {link}`,

    'media.both.denied': 'L’accès à la caméra et au micro est bloqué. Autorisez-le dans les paramètres du site de votre navigateur, puis rechargez la page.',
    'media.both.not-found': 'Aucune caméra ni aucun micro n’a été trouvé.',
    'media.both.in-use': 'Votre caméra et votre micro sont utilisés par une autre application. Fermez-la et réessayez.',
    'media.both.insecure': 'La caméra et le micro ne fonctionnent que sur une page sécurisée (HTTPS).',
    'media.both.failed': 'Votre caméra et votre micro n’ont pas pu être démarrés.',
    'media.camera.denied': 'L’accès à la caméra est bloqué. Autorisez-le dans les paramètres du site de votre navigateur, puis rechargez la page.',
    'media.camera.not-found': 'Aucune caméra n’a été trouvée.',
    'media.camera.in-use': 'Votre caméra est utilisée par une autre application. Fermez-la et réessayez.',
    'media.camera.insecure': 'La caméra ne fonctionne que sur une page sécurisée (HTTPS).',
    'media.camera.failed': 'Votre caméra n’a pas pu être démarrée.',
    'media.mic.denied': 'L’accès au micro est bloqué. Autorisez-le dans les paramètres du site de votre navigateur, puis rechargez la page.',
    'media.mic.not-found': 'Aucun micro n’a été trouvé.',
    'media.mic.in-use': 'Votre micro est utilisé par une autre application. Fermez-la et réessayez.',
    'media.mic.insecure': 'Le micro ne fonctionne que sur une page sécurisée (HTTPS).',
    'media.mic.failed': 'Votre micro n’a pas pu être démarré.',
    'media.watchOnly': 'Vous pouvez tout de même participer pour voir et entendre les autres.',
    'media.audioOnly': 'Vous pouvez tout de même participer avec votre micro.',
    'media.videoOnly': 'Vous pouvez tout de même participer avec votre caméra.',
    'media.micLost': 'Votre micro a été déconnecté. Choisissez-en un autre dans les paramètres.',
    'media.cameraLost': 'Votre caméra a été déconnectée. Choisissez-en une autre dans les paramètres.',
    'media.screenFailed': 'Votre écran n’a pas pu être partagé. Réessayez, ou vérifiez l’autorisation d’enregistrement de l’écran de votre système.',

    'error.dismiss': 'Fermer',
    'error.retry': 'Réessayer',
    'error.home': 'Aller à l’accueil',
    'error.generic': 'Une erreur est survenue. Réessayez.',
    'error.joinFailed': 'Impossible de rejoindre la réunion',
    'error.unsupported.title': 'Ce navigateur ne peut pas rejoindre de réunion',
    'error.unsupported': 'Utilisez une version récente de Firefox, Chrome, Edge ou Safari.',
    'error.unknown-meeting.title': 'Cette réunion n’existe pas',
    'error.code.unknown-meeting': 'Vérifiez le lien que vous avez reçu, ou demandez-en un nouveau à l’organisateur.',
    'error.code.bad-name': 'Ce nom ne peut pas être utilisé. Choisissez un nom de 1 à 64 caractères.',
    'error.code.unreachable': 'salon est injoignable. Vérifiez votre connexion réseau et réessayez.',
    'error.code.timeout': 'salon n’a pas répondu à temps. Vérifiez votre connexion réseau et réessayez.',
    'error.code.closed': 'La connexion à salon a été fermée. Réessayez.',
    'error.code.server-error': 'salon a rencontré un problème. Réessayez dans un instant.',
    'error.code.rate-limited': 'Trop de tentatives. Patientez un instant, puis réessayez.',
    'error.code.cross-origin': 'Cette page ne peut pas rejoindre les réunions de ce serveur. Ouvrez directement le lien de la réunion.',
    'error.code.bad-response': 'salon a donné une réponse inattendue. Rechargez la page et réessayez.',
    'error.code.bad-token': 'Votre invitation à cette réunion a été refusée. Rechargez la page et réessayez.',
    'error.code.token-expired': 'La connexion a pris trop de temps. Réessayez.',
    'error.code.wrong-room': 'Votre invitation concerne une autre réunion. Vérifiez le lien.',
    'error.code.resume-failed': 'Votre place dans la réunion a été perdue. Rejoignez-la à nouveau pour continuer.',
    'error.code.shutting-down': 'salon redémarre. Réessayez dans quelques secondes.',
    'error.code.unavailable': 'salon est momentanément indisponible. Nouvel essai…',
    'error.code.replaced': 'Vous avez ouvert cette réunion dans une autre fenêtre ou sur un autre appareil\u00a0; celle-ci a donc été déconnectée.',
    'error.code.publish-failed': 'Votre caméra ou votre micro n’a pas pu être transmis à la réunion.',
    'error.code.subscribe-failed': 'La vidéo et le son des autres n’ont pas pu être reçus.',
    'error.code.bad-sdp': 'Votre navigateur et salon ne sont pas parvenus à s’accorder sur l’envoi des médias.',
    'error.code.internal': 'salon a rencontré un problème. Réessayez dans un instant.',
    'error.code.disconnected': 'La connexion à salon a été perdue et n’a pas pu être rétablie. Vérifiez votre réseau, puis rejoignez la réunion.',

    'home.title': 'salon · des réunions sur votre propre serveur',
    'home.tagline': 'Des réunions sur votre propre serveur',
    'home.lead': 'salon est un espace de réunion auto-hébergé. Planifiez une réunion depuis l’agenda que vous utilisez déjà\u00a0; chaque invité reçoit un lien qui ouvre une salle vidéo directement dans le navigateur.',
    'home.joinTitle': 'Rejoindre une réunion',
    'home.linkLabel': 'Lien ou nom de la réunion',
    'home.linkPlaceholder': 'https://…/m/hebdo ou hebdo',
    'home.go': 'Rejoindre',
    'home.badLink': 'Ceci ne ressemble pas à un lien de réunion. Collez le lien complet de votre invitation, ou le nom de la réunion.',
    'home.empty': 'Collez le lien de votre invitation, ou saisissez le nom de la réunion.',
    'home.f1.title': 'Depuis votre agenda',
    'home.f1.text': 'Thunderbird, Calendrier d’Apple, DAVx5, Evolution\u00a0: invitez comme d’habitude, salon envoie les invitations et recueille les réponses.',
    'home.f2.title': 'Dans le navigateur',
    'home.f2.text': 'Aucun module, aucune application à installer\u00a0: le lien ouvre la salle dans Firefox, Chrome, Edge ou Safari, sur ordinateur comme sur téléphone.',
    'home.f3.title': 'À vous',
    'home.f3.text': 'Un seul programme sur votre propre serveur, avec son propre relais vidéo. Aucun service tiers ne voit vos réunions.',
  },
};

function detect() {
  const asked = new URLSearchParams(location.search).get('lang');
  const candidates = [asked, ...(navigator.languages || []), navigator.language];
  for (const c of candidates) {
    const code = String(c || '').slice(0, 2).toLowerCase();
    if (STRINGS[code]) return code;
  }
  return 'en';
}

/** The page's language: "en" or "fr". */
export const lang = detect();

/** Whether `key` has a translation. */
export function has(key) {
  return key in STRINGS[lang] || key in STRINGS.en;
}

/** The text for `key`, with {var} placeholders filled from `vars`. */
export function t(key, vars) {
  let s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  return s;
}

/** Fill data-i18n and data-i18n-attr under `root`. */
export function translateDocument(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}
