-- Run once by the postgres image on an empty data directory: one database per service.
CREATE DATABASE oms_customer;
CREATE DATABASE oms_order;
CREATE DATABASE oms_production;
CREATE DATABASE oms_inventory;
CREATE DATABASE oms_ingest;
CREATE DATABASE oms_notify;
CREATE DATABASE oms_identity;
