"""Small pieces every view uses: icons drawn in code, widget builders, markdown rendering."""
