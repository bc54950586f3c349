package fr.leuwen.rhdemoAPI.model;

import jakarta.persistence.Entity;
import jakarta.persistence.Table;

/** Release 1.0 (V1__initial_schema.sql). */
@Entity(name = "Employe")
@Table(name = "employes")
public class Employe10 extends EmployeEntity {
}
