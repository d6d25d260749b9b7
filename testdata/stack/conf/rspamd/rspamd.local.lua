-- Local rules of the mailflow test stack (loaded from LOCAL_CONFDIR).

-- GTUBE as ordinary spam, landing in Junk instead of being rejected.
--
-- Rspamd 3.4 finds the standard GTUBE string while it parses the text parts,
-- then forces "reject" and skips every other rule (even the result headers);
-- no setting changes that. This connection-stage rule runs before the parsing:
-- on finding the string it tells Rspamd not to process the text parts (so the
-- built-in check never runs) and, on the receiving pass, scores the message
-- 20, which gives the "add header" action (X-Spam: Yes) and Sieve files it
-- into Junk. On the authenticated submission pass it adds no score: that pass
-- only signs.
local GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'

rspamd_config:register_symbol({
  name = 'MAILFLOW_GTUBE',
  type = 'connfilter',
  score = 20.0,
  group = 'mailflow',
  description = 'GTUBE test string (mailflow stack: spam, not reject)',
  callback = function(task)
    local content = task:get_content()
    if not content or not tostring(content):find(GTUBE, 1, true) then
      return false
    end
    task:set_flag('skip_process')
    if task:get_user() then
      return false
    end
    task:insert_result('MAILFLOW_GTUBE', 1.0)
  end,
})

-- X-Rspamd-Score: the final score alone, easy to parse (milter_headers in 3.4
-- has no routine for it). Receiving pass only; any such header a client sent
-- is removed.
rspamd_config:register_symbol({
  name = 'MAILFLOW_SCORE_HEADER',
  type = 'idempotent',
  flags = 'empty,explicit_disable,ignore_passthrough',
  callback = function(task)
    if task:get_user() then
      return
    end
    local score = task:get_metric_score('default')[1]
    task:set_milter_reply({
      remove_headers = { ['X-Rspamd-Score'] = 0 },
      add_headers = { ['X-Rspamd-Score'] = string.format('%.2f', score) },
    })
  end,
})

-- A clear SMTP reply for the one thing this stack rejects: mail that fails
-- DMARC for a p=reject domain (local.d/dmarc.conf). Postfix then answers
-- "554 5.7.1 Rejected by the DMARC policy of the From domain (p=reject)"
-- instead of the proxy's generic "Spam message rejected".
rspamd_config:register_symbol({
  name = 'MAILFLOW_DMARC_REJECT_MESSAGE',
  type = 'postfilter',
  flags = 'empty',
  callback = function(task)
    if task:has_symbol('DMARC_POLICY_REJECT') then
      task:append_message('Rejected by the DMARC policy of the From domain (p=reject)', 'smtp_message')
    end
  end,
})
