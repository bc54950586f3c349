package fr.leuwen.rhdemoAPI.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.validation.constraints.Email;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Size;

/** The employes table of release 1.1; release 1.0 maps `telephone` as transient (META-INF/orm-1.0.xml). */
@Entity
@Table(name = "employes")
public class Employe {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    @JsonProperty(access = JsonProperty.Access.READ_ONLY)
    private Long id;

    @NotBlank
    @Size(max = 250)
    @Column(nullable = false, length = 250)
    private String prenom;

    @NotBlank
    @Size(max = 250)
    @Column(nullable = false, length = 250)
    private String nom;

    @NotBlank
    @Email
    @Size(max = 250)
    @Column(nullable = false, length = 250, unique = true)
    private String mail;

    @Size(max = 500)
    @Column(length = 500)
    private String adresse;

    @Size(max = 20)
    @Column(length = 20)
    private String telephone;

    public Long getId() { return id; }
    public String getPrenom() { return prenom; }
    public void setPrenom(String prenom) { this.prenom = prenom; }
    public String getNom() { return nom; }
    public void setNom(String nom) { this.nom = nom; }
    public String getMail() { return mail; }
    public void setMail(String mail) { this.mail = mail; }
    public String getAdresse() { return adresse; }
    public void setAdresse(String adresse) { this.adresse = blankToNull(adresse); }
    public String getTelephone() { return telephone; }
    public void setTelephone(String telephone) { this.telephone = blankToNull(telephone); }

    /** PUT replaces the writable fields. */
    public void replaceWith(Employe other) {
        prenom = other.prenom;
        nom = other.nom;
        mail = other.mail;
        adresse = other.adresse;
        telephone = other.telephone;
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value;
    }
}
