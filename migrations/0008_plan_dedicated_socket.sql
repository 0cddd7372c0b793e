-- Issue 20: the Pro plan buys a dedicated stream socket in the hot zone (an account holding
-- its own outbound socket never hibernates: ~$4 a month while hot; durable-objects/account/hot-zone.ts).
-- Other plans are hot without it (REST every 5 s, the market feed's wake-ups).
UPDATE plans SET limits = json_set(limits, '$.dedicatedSocket', json('true')) WHERE id = 'pro';
