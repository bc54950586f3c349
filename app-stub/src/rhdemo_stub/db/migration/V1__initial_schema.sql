CREATE TABLE IF NOT EXISTS employes (
  id BIGSERIAL PRIMARY KEY,
  prenom VARCHAR(250) NOT NULL,
  nom VARCHAR(250) NOT NULL,
  mail VARCHAR(250) NOT NULL,
  adresse VARCHAR(500)
);

CREATE UNIQUE INDEX IF NOT EXISTS idx_employes_mail ON employes(mail);
CREATE INDEX IF NOT EXISTS idx_employes_nom ON employes(nom);
CREATE INDEX IF NOT EXISTS idx_employes_prenom ON employes(prenom);
CREATE INDEX IF NOT EXISTS idx_employes_nom_prenom ON employes(nom, prenom);
CREATE INDEX IF NOT EXISTS idx_employes_adresse ON employes(adresse) WHERE adresse IS NOT NULL;
