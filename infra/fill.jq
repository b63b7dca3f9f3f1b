# app-registrations.json ready for Microsoft Graph: {BOT_APP_ID} and {BOT_DOMAIN} filled from --arg app / --arg domain,
# and the notes (keys starting with $) dropped. Used by infra/README.md; tests/unit/test_deployment_agreement.py runs it.
walk(
  if type == "object" then with_entries(select(.key | startswith("$") | not))
  elif type == "string" then split("{BOT_APP_ID}") | join($app) | split("{BOT_DOMAIN}") | join($domain)
  else . end
)
