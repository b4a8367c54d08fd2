"""The `notify` plugin: tell the owner, through Apprise, when something needs them."""
