ALTER TABLE employes ADD COLUMN IF NOT EXISTS telephone VARCHAR(20);
CREATE INDEX IF NOT EXISTS idx_employes_telephone ON employes(telephone);
