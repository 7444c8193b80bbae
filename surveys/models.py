# Models arrive with the surveys and crm_bridge issue (#7); the app exists so the layout is in place.
