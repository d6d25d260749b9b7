# Runs before any personal script (sieve_before): mail Rspamd judged spam
# ("add header" action: the proxy adds X-Spam: Yes) goes to Junk.
require ["fileinto"];
if header :is "X-Spam" "Yes" {
  fileinto "Junk";
  stop;
}
