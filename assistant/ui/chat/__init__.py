"""The main window: transcript, composer, sidebar, inspector, menus and the actions behind them."""
