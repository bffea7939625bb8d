"""The windows opened from the menus: settings and persona, models, memories, documents."""
