<?xml version='1.0' encoding='utf-8'?>
<!DOCTYPE TS>
<TS version="2.1" language="es_ES">
<context>
    <name>Banner</name>
    <message>
        <source>Connection status</source>
        <translation>Estado de la conexión</translation>
    </message>
    <message>
        <source>Connected</source>
        <translation>Conectado</translation>
    </message>
    <message>
        <source>Disconnected.</source>
        <translation>Desconectado.</translation>
    </message>
    <message>
        <source>Log in again</source>
        <translation>Volver a iniciar sesión</translation>
    </message>
    <message>
        <source>Connection lost. Reconnecting in %1 s…</source>
        <translation>Conexión perdida. Reconectando en %1 s…</translation>
    </message>
    <message>
        <source>Connection lost. Reconnecting…</source>
        <translation>Conexión perdida. Reconectando…</translation>
    </message>
    <message>
        <source>Retry now</source>
        <translation>Reintentar ahora</translation>
    </message>
    <message>
        <source>Connection lost. Connecting…</source>
        <translation>Conexión perdida. Conectando…</translation>
    </message>
</context>
<context>
    <name>ChatStore</name>
    <message>
        <source>%1 changed the topic to “%2”</source>
        <extracomment>seconds a "typing" notice stays shown without a new one seconds between our own typing notices</extracomment>
        <translation>%1 cambió el tema a «%2»</translation>
    </message>
    <message>
        <source>%1 cleared the topic</source>
        <translation>%1 borró el tema</translation>
    </message>
    <message>
        <source>%1 joined the room</source>
        <translation>%1 entró en la sala</translation>
    </message>
    <message>
        <source>%1 left the room</source>
        <translation>%1 salió de la sala</translation>
    </message>
    <message>
        <source>%1 was invited</source>
        <translation>%1 fue invitado/a</translation>
    </message>
    <message>
        <source>Usage: %1</source>
        <translation>Uso: %1</translation>
    </message>
    <message>
        <source>Unknown command /%1. Type /help for the list.</source>
        <translation>Comando desconocido /%1. Escribe /help para ver la lista.</translation>
    </message>
</context>
<context>
    <name>ConnectWindow</name>
    <message>
        <source>Fill in the server, your user name and password.</source>
        <translation>Rellena el servidor, tu nombre de usuario y la contraseña.</translation>
    </message>
    <message>
        <source>The two passwords do not match.</source>
        <translation>Las dos contraseñas no coinciden.</translation>
    </message>
    <message>
        <source>Tertulia — Log in</source>
        <translation>Tertulia — Iniciar sesión</translation>
    </message>
    <message>
        <source>Welcome to Tertulia</source>
        <translation>Bienvenido/a a Tertulia</translation>
    </message>
    <message>
        <source>Create an account on a Tertulia server to start chatting.</source>
        <translation>Crea una cuenta en un servidor de Tertulia para empezar a chatear.</translation>
    </message>
    <message>
        <source>Log in to your Tertulia server.</source>
        <translation>Inicia sesión en tu servidor de Tertulia.</translation>
    </message>
    <message>
        <source>Log in</source>
        <translation>Iniciar sesión</translation>
    </message>
    <message>
        <source>Create account</source>
        <translation>Crear cuenta</translation>
    </message>
    <message>
        <source>Server and port</source>
        <translation>Servidor y puerto</translation>
    </message>
    <message>
        <source>chat.example.org</source>
        <translation>chat.ejemplo.org</translation>
    </message>
    <message>
        <source>User name</source>
        <translation>Nombre de usuario</translation>
    </message>
    <message>
        <source>e.g. ana</source>
        <translation>p. ej. ana</translation>
    </message>
    <message>
        <source>Password</source>
        <translation>Contraseña</translation>
    </message>
    <message>
        <source>Repeat password</source>
        <translation>Repite la contraseña</translation>
    </message>
    <message>
        <source>Remember password (in the system keyring)</source>
        <translation>Recordar la contraseña (en el llavero del sistema)</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>Conectando…</translation>
    </message>
    <message>
        <source>Create account and log in</source>
        <translation>Crear cuenta e iniciar sesión</translation>
    </message>
    <message>
        <source>Language:</source>
        <translation>Idioma:</translation>
    </message>
    <message>
        <source>System default</source>
        <translation>El del sistema</translation>
    </message>
</context>
<context>
    <name>DmDialog</name>
    <message>
        <source>Start a direct message</source>
        <translation>Empezar un mensaje directo</translation>
    </message>
    <message>
        <source>Who do you want to talk to?</source>
        <translation>¿Con quién quieres hablar?</translation>
    </message>
    <message>
        <source>user name</source>
        <translation>nombre de usuario</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>Empezar</translation>
    </message>
</context>
<context>
    <name>Errors</name>
    <message>
        <source>Wrong user name or password.</source>
        <extracomment>code -&gt; name of the language in that language</extracomment>
        <translation>Nombre de usuario o contraseña incorrectos.</translation>
    </message>
    <message>
        <source>That user name is already taken.</source>
        <translation>Ese nombre de usuario ya está en uso.</translation>
    </message>
    <message>
        <source>The password must have at least %1 characters.</source>
        <translation>La contraseña debe tener al menos %1 caracteres.</translation>
    </message>
    <message>
        <source>Invalid name: use letters, digits, '_', '-' and '.', starting with a letter or digit.</source>
        <translation>Nombre no válido: usa letras, cifras, '_', '-' y '.', empezando por una letra o cifra.</translation>
    </message>
    <message>
        <source>This server does not allow new accounts. Ask its operator.</source>
        <translation>Este servidor no admite cuentas nuevas. Pregunta a quien lo administra.</translation>
    </message>
    <message>
        <source>There is no such room, or it is private.</source>
        <translation>Esa sala no existe o es privada.</translation>
    </message>
    <message>
        <source>A room with that name already exists.</source>
        <translation>Ya existe una sala con ese nombre.</translation>
    </message>
    <message>
        <source>You are not a member of that room.</source>
        <translation>No eres miembro de esa sala.</translation>
    </message>
    <message>
        <source>That is not allowed in this room.</source>
        <translation>Eso no está permitido en esta sala.</translation>
    </message>
    <message>
        <source>There is no user with that name.</source>
        <translation>No hay ningún usuario con ese nombre.</translation>
    </message>
    <message>
        <source>The message is too long (at most %1 characters).</source>
        <translation>El mensaje es demasiado largo (como mucho %1 caracteres).</translation>
    </message>
    <message>
        <source>The server refused that request as invalid.</source>
        <translation>El servidor rechazó la petición por no ser válida.</translation>
    </message>
    <message>
        <source>The message could not be stored (duplicate id).</source>
        <translation>No se pudo guardar el mensaje (identificador duplicado).</translation>
    </message>
    <message>
        <source>You are sending too fast. Wait a moment.</source>
        <translation>Estás enviando demasiado rápido. Espera un momento.</translation>
    </message>
    <message>
        <source>The connection was too slow to keep up.</source>
        <translation>La conexión era demasiado lenta para seguir el ritmo.</translation>
    </message>
    <message>
        <source>The connection timed out.</source>
        <translation>Se agotó el tiempo de espera de la conexión.</translation>
    </message>
    <message>
        <source>The server is restarting.</source>
        <translation>El servidor se está reiniciando.</translation>
    </message>
    <message>
        <source>The server had an internal problem.</source>
        <translation>El servidor tuvo un problema interno.</translation>
    </message>
    <message>
        <source>This server speaks a protocol version we do not.</source>
        <translation>Este servidor usa una versión del protocolo que no conocemos.</translation>
    </message>
    <message>
        <source>The request was too large for the server.</source>
        <translation>La petición era demasiado grande para el servidor.</translation>
    </message>
    <message>
        <source>The server did not understand a request.</source>
        <translation>El servidor no entendió una petición.</translation>
    </message>
    <message>
        <source>Not logged in.</source>
        <translation>No has iniciado sesión.</translation>
    </message>
    <message>
        <source>The server refused the request (%1).</source>
        <translation>El servidor rechazó la petición (%1).</translation>
    </message>
    <message>
        <source>The connection was lost.</source>
        <translation>Se perdió la conexión.</translation>
    </message>
    <message>
        <source>The connection to the server was lost.</source>
        <translation>Se perdió la conexión con el servidor.</translation>
    </message>
    <message>
        <source>The server's certificate has CHANGED since you first trusted it. This may be an attack: someone may be intercepting the connection. Nothing was sent (no password, no message).

Remembered: %1
Received now: %2

Ask the server operator whether they replaced the certificate and compare the fingerprints (they see theirs with 'tertulia admin fingerprint'). Only if they match, remove the line for %3 from %4 and connect again.</source>
        <translation>El certificado del servidor HA CAMBIADO desde que confiaste en él. Puede ser un ataque: alguien podría estar interceptando la conexión. No se envió nada (ni contraseña ni mensajes).

Recordado: %1
Recibido ahora: %2

Pregunta a quien administra el servidor si cambió el certificado y comparad las huellas (la suya se ve con 'tertulia admin fingerprint'). Solo si coinciden, borra la línea de %3 en %4 y vuelve a conectar.</translation>
    </message>
    <message>
        <source>The server's certificate does not match the expected fingerprint. Nothing was sent.

Expected: %1
Received: %2</source>
        <translation>El certificado del servidor no coincide con la huella esperada. No se envió nada.

Esperada: %1
Recibida: %2</translation>
    </message>
    <message>
        <source>You did not trust the server's certificate, so nothing was sent.</source>
        <translation>No confiaste en el certificado del servidor, así que no se envió nada.</translation>
    </message>
    <message>
        <source>The secure connection could not be set up (%1).</source>
        <translation>No se pudo establecer la conexión segura (%1).</translation>
    </message>
    <message>
        <source>The server refused the connection. Is it running on that port?</source>
        <translation>El servidor rechazó la conexión. ¿Está funcionando en ese puerto?</translation>
    </message>
    <message>
        <source>The server did not answer in time.</source>
        <translation>El servidor no respondió a tiempo.</translation>
    </message>
    <message>
        <source>The server name could not be found.</source>
        <translation>No se encontró el nombre del servidor.</translation>
    </message>
    <message>
        <source>Cannot reach the server (%1).</source>
        <translation>No se puede llegar al servidor (%1).</translation>
    </message>
</context>
<context>
    <name>HelpDialog</name>
    <message>
        <source>Commands and shortcuts</source>
        <translation>Comandos y atajos</translation>
    </message>
    <message>
        <source>join a room, creating it if it does not exist</source>
        <translation>entrar en una sala (se crea si no existe)</translation>
    </message>
    <message>
        <source>leave this room (or the one named)</source>
        <translation>salir de esta sala (o de la indicada)</translation>
    </message>
    <message>
        <source>say what you are doing: * ana waves</source>
        <translation>contar lo que haces: * ana saluda</translation>
    </message>
    <message>
        <source>open a direct message with a user</source>
        <translation>abrir un mensaje directo con alguien</translation>
    </message>
    <message>
        <source>set this room's topic</source>
        <translation>cambiar el tema de esta sala</translation>
    </message>
    <message>
        <source>show this help</source>
        <translation>mostrar esta ayuda</translation>
    </message>
    <message>
        <source>send / new line</source>
        <translation>enviar / nueva línea</translation>
    </message>
    <message>
        <source>jump to a room or person</source>
        <translation>ir a una sala o persona</translation>
    </message>
    <message>
        <source>previous / next room</source>
        <translation>sala anterior / siguiente</translation>
    </message>
    <message>
        <source>search this room's history</source>
        <translation>buscar en el historial de esta sala</translation>
    </message>
    <message>
        <source>bigger / smaller / normal text</source>
        <translation>texto más grande / más pequeño / normal</translation>
    </message>
    <message>
        <source>emoji shortcodes</source>
        <translation>atajos de emoji</translation>
    </message>
</context>
<context>
    <name>Invitations</name>
    <message>
        <source>Could not answer the invitation to %1: %2</source>
        <translation>No se pudo responder a la invitación a %1: %2</translation>
    </message>
    <message>
        <source>%1 invited you to the private room %2</source>
        <translation>%1 te invitó a la sala privada %2</translation>
    </message>
    <message>
        <source>%1 invited you to the room %2</source>
        <translation>%1 te invitó a la sala %2</translation>
    </message>
    <message>
        <source>(one more pending)</source>
        <translation>(una más pendiente)</translation>
    </message>
    <message>
        <source>(%n more pending)</source>
        <translation>(%n más pendientes)</translation>
    </message>
    <message>
        <source>Accept</source>
        <translation>Aceptar</translation>
    </message>
    <message>
        <source>Decline</source>
        <translation>Rechazar</translation>
    </message>
    <message>
        <source>Pending invitation</source>
        <translation>Invitación pendiente</translation>
    </message>
</context>
<context>
    <name>JoinRoomDialog</name>
    <message>
        <source>Join or create a room</source>
        <translation>Entrar en una sala o crearla</translation>
    </message>
    <message>
        <source>Public rooms</source>
        <translation>Salas públicas</translation>
    </message>
    <message>
        <source>No other public rooms yet.</source>
        <translation>Todavía no hay otras salas públicas.</translation>
    </message>
    <message>
        <source>room name, e.g. plans</source>
        <translation>nombre de la sala, p. ej. planes</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>opcional</translation>
    </message>
    <message>
        <source>Private (invitation only)</source>
        <translation>Privada (solo con invitación)</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Nombre</translation>
    </message>
    <message>
        <source>Topic</source>
        <translation>Tema</translation>
    </message>
    <message>
        <source>Join or create</source>
        <translation>Entrar o crear</translation>
    </message>
    <message>
        <source>%n member</source>
        <translation>%n miembro</translation>
    </message>
    <message>
        <source>%n members</source>
        <translation>%n miembros</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Join or create a room…</source>
        <translation>Entrar en una sala o crearla…</translation>
    </message>
    <message>
        <source>Start a direct message…</source>
        <translation>Empezar un mensaje directo…</translation>
    </message>
    <message>
        <source>Join a room or start a direct message</source>
        <translation>Entrar en una sala o empezar un mensaje directo</translation>
    </message>
    <message>
        <source>Settings…</source>
        <translation>Ajustes…</translation>
    </message>
    <message>
        <source>Commands and shortcuts</source>
        <translation>Comandos y atajos</translation>
    </message>
    <message>
        <source>Log out</source>
        <translation>Cerrar sesión</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Ajustes</translation>
    </message>
    <message>
        <source>Search (Ctrl+F)</source>
        <translation>Buscar (Ctrl+F)</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>Buscar</translation>
    </message>
    <message>
        <source>Search this room</source>
        <translation>Buscar en esta sala</translation>
    </message>
    <message>
        <source>Search older messages</source>
        <translation>Buscar en mensajes anteriores</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>Enviar</translation>
    </message>
    <message>
        <source>Rooms</source>
        <translation>Salas</translation>
    </message>
    <message>
        <source>Members</source>
        <translation>Miembros</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>Mensaje</translation>
    </message>
    <message>
        <source>Jump to latest ↓</source>
        <translation>Ir a lo último ↓</translation>
    </message>
    <message>
        <source>You are not in any room yet.
Join or create one with + (or type /join name).</source>
        <translation>Todavía no estás en ninguna sala.
Entra en una o créala con + (o escribe /join nombre).</translation>
    </message>
    <message>
        <source>Direct message</source>
        <translation>Mensaje directo</translation>
    </message>
    <message>
        <source>No topic yet — click to set one</source>
        <translation>Sin tema todavía — haz clic para ponerlo</translation>
    </message>
    <message>
        <source>%n member</source>
        <translation>%n miembro</translation>
    </message>
    <message>
        <source>%n members</source>
        <translation>%n miembros</translation>
    </message>
    <message>
        <source>MEMBERS · %1 ONLINE</source>
        <translation>MIEMBROS · %1 CONECTADOS</translation>
    </message>
    <message>
        <source>Message %1</source>
        <translation>Mensaje para %1</translation>
    </message>
    <message>
        <source>↑ %n new message — jump</source>
        <translation>↑ %n mensaje nuevo — ir</translation>
    </message>
    <message>
        <source>↑ %n new messages — jump</source>
        <translation>↑ %n mensajes nuevos — ir</translation>
    </message>
    <message>
        <source>Online</source>
        <translation>Conectado/a</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>Conectando…</translation>
    </message>
    <message>
        <source>Reconnecting…</source>
        <translation>Reconectando…</translation>
    </message>
    <message>
        <source>Offline</source>
        <translation>Sin conexión</translation>
    </message>
    <message>
        <source>%1 of %2</source>
        <translation>%1 de %2</translation>
    </message>
    <message>
        <source>No results</source>
        <translation>Sin resultados</translation>
    </message>
</context>
<context>
    <name>MessageView</name>
    <message>
        <source>Today</source>
        <translation>Hoy</translation>
    </message>
    <message>
        <source>Yesterday</source>
        <translation>Ayer</translation>
    </message>
    <message>
        <source>sending…</source>
        <extracomment>``(msg_id, action)`` with action "retry" or "discard"</extracomment>
        <translation>enviando…</translation>
    </message>
    <message>
        <source>sent</source>
        <translation>enviado</translation>
    </message>
    <message>
        <source>Not sent</source>
        <translation>No enviado</translation>
    </message>
    <message>
        <source>Retry</source>
        <translation>Reintentar</translation>
    </message>
    <message>
        <source>Discard</source>
        <translation>Descartar</translation>
    </message>
    <message>
        <source>New messages</source>
        <translation>Mensajes nuevos</translation>
    </message>
    <message>
        <source>Messages</source>
        <extracomment>the banner stays hidden for blips shorter than this (ms)</extracomment>
        <translation>Mensajes</translation>
    </message>
    <message>
        <source>Copy selection</source>
        <translation>Copiar la selección</translation>
    </message>
    <message>
        <source>Copy text</source>
        <translation>Copiar el texto</translation>
    </message>
    <message>
        <source>Open link</source>
        <translation>Abrir el enlace</translation>
    </message>
    <message>
        <source>Copy link</source>
        <translation>Copiar el enlace</translation>
    </message>
</context>
<context>
    <name>Models</name>
    <message>
        <source>%1 at %2: %3</source>
        <extracomment>messages of one author closer together than this share one header</extracomment>
        <translation>%1 a las %2: %3</translation>
    </message>
    <message>
        <source>sending</source>
        <translation>enviando</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>falló</translation>
    </message>
    <message>
        <source>Rooms</source>
        <translation>Salas</translation>
    </message>
    <message>
        <source>Direct messages</source>
        <translation>Mensajes directos</translation>
    </message>
    <message>
        <source>%n unread message</source>
        <translation>%n mensaje sin leer</translation>
    </message>
    <message>
        <source>%n unread messages</source>
        <translation>%n mensajes sin leer</translation>
    </message>
    <message>
        <source>%n mention</source>
        <translation>%n mención</translation>
    </message>
    <message>
        <source>%n mentions</source>
        <translation>%n menciones</translation>
    </message>
    <message>
        <source>online</source>
        <translation>conectado/a</translation>
    </message>
    <message>
        <source>away</source>
        <translation>ausente</translation>
    </message>
    <message>
        <source>offline</source>
        <translation>desconectado/a</translation>
    </message>
    <message>
        <source>presence unknown (reconnecting)</source>
        <translation>presencia desconocida (reconectando)</translation>
    </message>
    <message>
        <source>%n more message, loading…</source>
        <translation>%n mensaje más, cargando…</translation>
    </message>
    <message>
        <source>%n more messages, loading…</source>
        <translation>%n mensajes más, cargando…</translation>
    </message>
</context>
<context>
    <name>Notifier</name>
    <message>
        <source>Quit</source>
        <translation>Salir</translation>
    </message>
    <message>
        <source>%n unread</source>
        <translation>%n sin leer</translation>
    </message>
</context>
<context>
    <name>RoomSwitcher</name>
    <message>
        <source>Jump to a room or person…</source>
        <translation>Ir a una sala o persona…</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>Ajustes</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Idioma</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>Tema</translation>
    </message>
    <message>
        <source>System default</source>
        <translation>El del sistema</translation>
    </message>
    <message>
        <source>Follow the system</source>
        <translation>Como el sistema</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>Claro</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>Oscuro</translation>
    </message>
    <message>
        <source>Desktop notifications for mentions and direct messages</source>
        <translation>Notificaciones de escritorio para menciones y mensajes directos</translation>
    </message>
    <message>
        <source>Play a sound with notifications</source>
        <translation>Sonido con las notificaciones</translation>
    </message>
</context>
<context>
    <name>TertuliaApp</name>
    <message>
        <source>The server's certificate has changed</source>
        <translation>El certificado del servidor ha cambiado</translation>
    </message>
</context>
<context>
    <name>TopicDialog</name>
    <message>
        <source>Topic of #%1</source>
        <translation>Tema de #%1</translation>
    </message>
</context>
<context>
    <name>TrustDialog</name>
    <message>
        <source>Trust this server?</source>
        <translation>¿Confiar en este servidor?</translation>
    </message>
    <message>
        <source>First connection to %1</source>
        <translation>Primera conexión con %1</translation>
    </message>
    <message>
        <source>This server uses a certificate that no authority vouches for (normal for a self-hosted Tertulia server). Check that the fingerprint below is exactly the one the server's operator gives you (they see it with 'tertulia admin fingerprint'). If you trust it, it is remembered, and any later change is refused.</source>
        <translation>Este servidor usa un certificado que ninguna autoridad respalda (lo normal en un servidor de Tertulia propio). Comprueba que la huella de abajo es exactamente la que te da quien administra el servidor (la ve con 'tertulia admin fingerprint'). Si confías en ella, se recordará y cualquier cambio posterior se rechazará.</translation>
    </message>
    <message>
        <source>Trust and connect</source>
        <translation>Confiar y conectar</translation>
    </message>
</context>
<context>
    <name>Typing</name>
    <message>
        <source>%1 is typing…</source>
        <translation>%1 está escribiendo…</translation>
    </message>
    <message>
        <source>%1 and %2 are typing…</source>
        <translation>%1 y %2 están escribiendo…</translation>
    </message>
    <message>
        <source>Several people are typing…</source>
        <translation>Varias personas están escribiendo…</translation>
    </message>
</context>
</TS>