"""Tertulia's desktop client (PySide6 / Qt 6).

Layout of this package:

* :mod:`~tertulia.gui.bridge` -- the only module that touches the network: it runs a
  :class:`tertulia.client.Client` on an asyncio loop in a worker thread and talks to the GUI
  thread through queued Qt signals;
* :mod:`~tertulia.gui.store` -- the GUI-side state (rooms, messages, members, unread counts),
  fed by the bridge's signals, owned by the GUI thread;
* :mod:`~tertulia.gui.models` -- Qt item models over that state (``QAbstractListModel`` for
  rooms, messages and members), so views and screen readers see one item per message;
* :mod:`~tertulia.gui.delegates`, :mod:`~tertulia.gui.widgets`, :mod:`~tertulia.gui.dialogs`,
  :mod:`~tertulia.gui.mainwindow` -- views; they never see a socket or an event loop;
* :mod:`~tertulia.gui.app` -- ``main()``: the ``tertulia gui`` / ``tertulia-gui`` entry point.

Importing this package does not import Qt, so ``tertulia gui`` can say how to install PySide6
when it is missing.
"""

__all__: list[str] = []
