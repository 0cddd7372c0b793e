-- Plans of DESIGN.md. Limits are JSON read by src/domain/plans.ts.
INSERT INTO plans (id, name, price_sats, duration_days, limits) VALUES
  ('free', 'Free', 0, 0, '{"maxAccounts":1,"automationTypes":["margin_guard"],"maxConcurrentSimulations":2,"maxSimulationSteps":10000}'),
  ('pro', 'Pro', 50000, 30, '{"maxAccounts":10,"automationTypes":["margin_guard","tp_sl","auto_entry"],"maxConcurrentSimulations":2,"maxSimulationSteps":10000}');
