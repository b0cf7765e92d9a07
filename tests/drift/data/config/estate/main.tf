# A small production estate: a VPC, two copies of the app stack, DNS from the registry.

terraform {
  required_version = ">= 1.7"
}

provider "aws" {
  region = "eu-west-1"
}

resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
  tags = {
    Name = "main-${terraform.workspace}"
  }
}

resource "aws_instance" "bastion" {
  ami           = "ami-0123456789abcdef0"
  instance_type = "t3.micro"
  user_data     = <<-EOT
    #!/bin/sh
    echo 'resource "aws_instance" "not_a_declaration" {}'
  EOT
}

resource "aws_instance" "imported" {
  ami           = "ami-0123456789abcdef0"
  instance_type = "t3.small"
}

import {
  to = aws_instance.imported
  id = "i-0abc"
}

module "app" {
  source = "./modules/app"
  count  = 2

  vpc_id = aws_vpc.main.id
}

# The security group now lives in the first app stack.
moved {
  from = aws_security_group.web
  to   = module.app[0].aws_security_group.web
}

module "dns" {
  source  = "example-corp/dns/aws"
  version = "~> 2.0"
  zone    = "example.com"
}

module "cdn" {
  source = "git::https://git.example.com/cdn.git?ref=v1.4.0"
}
