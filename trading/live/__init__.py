"""The running bot: builds the graph once, follows the exchange, the chat's one facade."""
