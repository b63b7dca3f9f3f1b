"""SRE consent bot: human consent and temporary user credentials before an agent writes to Azure."""
