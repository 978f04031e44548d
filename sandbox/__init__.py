"""The sandbox around the bot: a local Telegram Bot API server, the demo and the benchmarks."""
