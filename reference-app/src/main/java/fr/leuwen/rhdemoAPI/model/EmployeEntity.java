package fr.leuwen.rhdemoAPI.model;

import jakarta.persistence.Column;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.MappedSuperclass;

/** The columns of release 1.0, shared by both releases. */
@MappedSuperclass
public abstract class EmployeEntity {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(nullable = false, length = 250)
    private String prenom;

    @Column(nullable = false, length = 250)
    private String nom;

    @Column(nullable = false, length = 250, unique = true)
    private String mail;

    @Column(length = 500)
    private String adresse;

    public Long getId() { return id; }
    public String getPrenom() { return prenom; }
    public void setPrenom(String prenom) { this.prenom = prenom; }
    public String getNom() { return nom; }
    public void setNom(String nom) { this.nom = nom; }
    public String getMail() { return mail; }
    public void setMail(String mail) { this.mail = mail; }
    public String getAdresse() { return adresse; }
    public void setAdresse(String adresse) { this.adresse = adresse; }

    /** The telephone column exists from release 1.1 on. */
    public void setTelephone(String telephone) { }
}
