package fr.leuwen.rhdemoAPI.model;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Table;

/** Release 1.1 adds the telephone column (V2__add_phone_column.sql). */
@Entity(name = "Employe")
@Table(name = "employes")
public class Employe11 extends EmployeEntity {

    @Column(length = 20)
    private String telephone;

    public String getTelephone() { return telephone; }

    @Override
    public void setTelephone(String telephone) { this.telephone = telephone; }
}
